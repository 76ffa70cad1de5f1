/**
 * translate-output: files rendered from the plain forms output validation decoded
 * (validate-output.ts `keepingDecoded`, as `attache translate` does) are the files rendered by
 * decoding every resource again, in every golden case.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeResource } from '../../shared/xds/encoding.ts';
import { compile } from './compile.ts';
import { listCases, loadCase, loadCaseOptions } from './golden-cases.ts';
import { toTranslateFiles } from './translate-output.ts';
import { keepingDecoded } from './validate-output.ts';

test('translate output — files from validation’s decoded forms equal those decoded again, in every golden case', () => {
  let kept = 0;
  for (const name of listCases()) {
    const { result, decoded } = keepingDecoded(() =>
      compile(loadCase(name), { group: 'default', ...loadCaseOptions(name) }),
    );
    for (const r of result.resources) {
      const plain = decoded.get(r.bytes);
      if (plain === undefined) continue;
      assert.deepEqual(plain, decodeResource(r.typeUrl, r.bytes), `${name}: ${r.typeUrl} ${r.name}`);
      kept++;
    }
    assert.deepEqual(toTranslateFiles(result, decoded), toTranslateFiles(result), name);
  }
  assert.ok(kept > 0);
});

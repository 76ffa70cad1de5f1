#!/usr/bin/env python3
"""Differential-test batch driver for Emissary's own compiler (emissary-reference): compiles every
sub-directory of IN_DIR in one Python process, so the reference's imports are paid once, and
writes OUT_DIR/<name>/econf.json (the ADS configuration, as the reference's run.sh does) or
OUT_DIR/<name>/error.txt. It is started through the reference's run.sh with PYTHON pointing at
emissary-batch.sh, so it runs with the module path run.sh prepares; run.sh passes its own
oracle_compile.py path first, which is ignored here.
"""

import logging
import os
import sys
import tempfile
import traceback


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.endswith("oracle_compile.py")]
    in_dir, out_dir = args[0], args[1]
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    logger = logging.getLogger("ambassador")
    logger.setLevel(logging.CRITICAL)

    import ambassador
    from ambassador import IR, Config, EnvoyConfig
    from ambassador.fetch import ResourceFetcher
    from ambassador.utils import SecretHandler, dump_json

    schema_dir = os.path.join(os.path.dirname(ambassador.__file__), "schemas")
    secret_dir = tempfile.mkdtemp(prefix="attache-emissary-secrets-")
    for name in sorted(os.listdir(in_dir)):
        src = os.path.join(in_dir, name)
        dst = os.path.join(out_dir, name)
        os.makedirs(dst, exist_ok=True)
        try:
            aconf = Config(schema_dir_path=schema_dir)
            fetcher = ResourceFetcher(logger, aconf, skip_init_dir=True)
            fetcher.load_from_filesystem(src, recurse=True, k8s=True, finalize=True)
            aconf.load_all(fetcher.sorted())
            aconf.load_invalid(fetcher)
            ir = IR(aconf, secret_handler=SecretHandler(logger, "attache", secret_dir, "attache"))
            _bootstrap, ads, _clustermap = EnvoyConfig.generate(ir).split_config()
            with open(os.path.join(dst, "econf.json"), "w") as f:
                f.write(dump_json(ads))
        except Exception:
            with open(os.path.join(dst, "error.txt"), "w") as f:
                f.write(traceback.format_exc())
    return 0


if __name__ == "__main__":
    sys.exit(main())

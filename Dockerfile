# One image for every Attaché tier; the command picks the tier (see docker-compose.yml). It runs
# the compiled build (dist/, made by `npm run build`), not the TypeScript sources.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Dependencies first (cached while only sources change). --ignore-scripts skips the `prepare`
# build, which needs the sources copied below; the proto step (type bindings and the JSON proto
# descriptor the build ships) runs explicitly.
COPY package.json package-lock.json ./
COPY proto ./proto
RUN npm install --omit=dev --ignore-scripts && npm run gen:proto && npm cache clean --force
COPY tsconfig.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY shared ./shared
COPY services ./services
RUN npm run build
USER node
ENTRYPOINT ["node", "bin/attache.js"]
CMD ["--help"]

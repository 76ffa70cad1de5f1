# One image for every Attaché tier; the command picks the tier (see docker-compose.yml).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# proto/ is needed by the postinstall step that generates the Envoy type bindings.
COPY package.json package-lock.json ./
COPY proto ./proto
RUN npm install --omit=dev && npm cache clean --force
COPY bin ./bin
COPY shared ./shared
COPY services ./services
COPY tsconfig.json ./
USER node
ENTRYPOINT ["node", "bin/attache.js"]
CMD ["--help"]

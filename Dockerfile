# The deploy worker for the production-like stack (docker-compose.yml).
# Build stage: install everything and compile TypeScript; runtime stage: production dependencies and dist/.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` script compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim AS runtime
# git: build activities check out release tags from source repositories.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# MALLOC_ARENA_MAX=2: fewer glibc arenas for the SDK's native threads; 20-50 MB less peak RSS (BENCHMARKS.md).
ENV NODE_ENV=production \
    DEPLOY_DATA_DIR=/data \
    WORKER_HEALTH_PORT=8091 \
    MALLOC_ARENA_MAX=2
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Specs are resolved relative to the working directory (e.g. examples/hello-service/deploy.yaml).
COPY examples ./examples
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8091
# tini forwards SIGTERM to node so the worker drains (shutdownGraceTime) instead of being killed.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/worker/main.js"]

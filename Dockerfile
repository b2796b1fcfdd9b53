# appcluster-exporter image; the same image runs the simulated cluster (see compose/).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Only what `tsc -p tsconfig.build.json` needs for the runtime entry points; tests, bench and
# docs stay out of the image.
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root, so the process (user node) cannot change its own code.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Product presets (`preset: NAME`), read at load time from /app/presets.
COPY presets ./presets
# The user node by number: Kubernetes can check runAsNonRoot only against a numeric user.
USER 1000:1000
# --web.listen-address default. The configuration is mounted at /etc/appcluster/ by
# compose/docker-compose.yml and deploy/kubernetes/. No HEALTHCHECK here: the right one
# depends on the flags (listen address, TLS and basic auth from --web.config.file), so
# compose and Kubernetes declare theirs next to them; test/deploy/container.test.ts checks
# that they match.
EXPOSE 10471
# The V8 flags are the bin's (src/main.ts): yours to change here.
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=20", "--no-allocation-site-pretenuring", "dist/src/main.js", "--config.file=/etc/appcluster/config.yml"]

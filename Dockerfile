# appcluster-exporter image; the same image runs the simulated cluster (see compose/).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Only what `tsc -p tsconfig.json` needs for the runtime entry points; tests, bench and
# docs stay out of the image.
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root, so the process (user node) cannot change its own code.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 10471
CMD ["node", "dist/src/main.js", "--config.file=/etc/appcluster/config.yml"]

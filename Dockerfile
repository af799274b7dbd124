# One image, three programs on PATH: velocity-gateway (the default command), velocity-worker and
# velocity. Node 24 is the current LTS (Node 20 reaches end of life in 2026; the package still runs
# on 20.19+ for local development). `npm test` reproduces these stages without a Docker engine
# (scripts/dockerfile-check/), so every file a RUN line needs must be COPYed here.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# `npm ci` runs `prepare`, which builds dist/ and bundles the CLI with scripts/bundle-cli.mjs.
COPY scripts ./scripts
COPY src ./src
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# VC_LOCAL_ROOT: the default (local) driver writes to a volume the non-root user owns. Every VC_*
# name set here must be a known setting: the gateway refuses unknown ones. (On Node 22+ the AWS SDK
# prints no version warning at start, so every output line stays JSON.)
ENV NODE_ENV=production VC_HOST=0.0.0.0 VC_PORT=8080 VC_LOCAL_ROOT=/app/data \
    PATH=/app/bin:$PATH
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The three bins, as npm would link them (without writing to the image's global prefix), and the
# data folder owned by `node` (uid 1000) so the default local driver can write as non-root.
RUN chmod 0755 dist/bin/velocity-gateway.js dist/bin/velocity-worker.js dist/bin/velocity.js \
 && mkdir -p bin data \
 && ln -s ../dist/bin/velocity-gateway.js bin/velocity-gateway \
 && ln -s ../dist/bin/velocity-worker.js bin/velocity-worker \
 && ln -s ../dist/bin/velocity.js bin/velocity \
 && chown node:node data
VOLUME ["/app/data"]
USER node
EXPOSE 8080 9091
# Readiness, not liveness: "healthy" means this gateway answers and its store (and queue) are
# reachable, which is what `depends_on: service_healthy` and a load balancer need. Docker never
# restarts an unhealthy container by itself, so a store outage cannot cause a restart loop.
# The worker serves /readyz on VC_WORKER_PORT (9091) instead: its compose service and the
# Kubernetes probes name that port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.VC_PORT||8080)+'/readyz',{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The node image's entrypoint runs a command found on PATH (velocity-worker, velocity) as is and
# hands anything else to node. A 16 MB young generation from the start: see "Node flags" in the README.
CMD ["node", "--max-semi-space-size=2", "--no-allocation-site-pretenuring", "dist/bin/velocity-gateway.js"]

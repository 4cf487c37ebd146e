# chainwatch collector image (documentation-grade: built and run by operators, not by CI here).
#   docker build -t chainwatch-collector .
#   docker run -p 8443:8443 -v chainwatch:/var/lib/chainwatch -e CHAINWATCH_PUBLIC_URL=https://collector.example.com:8443 chainwatch-collector
FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles SQLite from source when no prebuilt binary is reachable.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig*.json ./
COPY packages ./packages
COPY test/package.json ./test/package.json
RUN npm ci --ignore-scripts=false && npx tsc -b && npm prune --omit=dev

FROM node:20-bookworm-slim
# dpkg-dev/rpm/openssl: `package agent` builds agent packages inside the container.
RUN apt-get update && apt-get install -y --no-install-recommends dpkg-dev rpm openssl ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/chainwatch --shell /usr/sbin/nologin chainwatch \
    && install -d -o chainwatch -g chainwatch -m 0700 /var/lib/chainwatch
COPY --from=build /src /opt/chainwatch
ENV CHAINWATCH_DB=/var/lib/chainwatch/chainwatch.db CHAINWATCH_HOST=0.0.0.0 CHAINWATCH_PORT=8443 NODE_ENV=production
USER chainwatch
VOLUME /var/lib/chainwatch
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "require('https').get({host:'127.0.0.1',port:8443,path:'/readyz',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/chainwatch/packages/collector/bin/chainwatch-collector.js"]
CMD ["start"]

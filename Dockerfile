# One image recipe for every service of every stage:
#   docker build --build-arg PACKAGE=stage1-dice-roller -t dice-roller .
# Each stage's compose file builds from here with its own PACKAGE. Package
# and binary names are the same (docs/design.md#layout), so the binary to copy is
# target/release/$PACKAGE.

# --- build: a release binary, compiled with the workspace's locked versions.
FROM rust:1.95.0-slim-bookworm AS build
ARG PACKAGE
WORKDIR /src
COPY . .
# The cache mounts keep the crate downloads and compiled dependencies between
# builds, so changing one stage does not rebuild the world. target/ is a
# cache mount, so the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    test -n "$PACKAGE" || { echo "build with --build-arg PACKAGE=<package>" >&2; exit 1; }; \
    cargo build --release --locked --package "$PACKAGE" \
    && cp "target/release/$PACKAGE" /usr/local/bin/service

# --- runtime: the same Debian release as the build image (same glibc), with
# curl for the compose healthcheck and nothing else. apt-get update fetches
# the release's current security updates, whatever the point-release tag.
FROM debian:12.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin service
COPY --from=build /usr/local/bin/service /usr/local/bin/service
# Not root: a compromised service cannot change the image's files.
USER 10001
ENTRYPOINT ["/usr/local/bin/service"]

# Gateway container image. Build from the repository root:
#   docker build -t gateway:latest .      (or: podman build -t gateway:latest .)
# Run, configure and operate it: docs/operations.md.

# ---- build: restore (cached apart from the source), then publish ----
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Only the files restore reads, so editing source does not invalidate the restore layer.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Gateway.Abstractions/Gateway.Abstractions.csproj src/Gateway.Abstractions/
COPY src/Gateway.Host/Gateway.Host.csproj src/Gateway.Host/
RUN dotnet restore src/Gateway.Host/Gateway.Host.csproj

# Gateway.Host.csproj links ../../appsettings.json, i.e. /src/appsettings.json here.
COPY .editorconfig appsettings.json ./
COPY src/ src/
RUN dotnet publish src/Gateway.Host -c Release -o /app --no-restore -p:UseAppHost=false

# ---- runtime ----
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app

# The base image sets ASPNETCORE_HTTP_PORTS=8080.
# DOTNET_EnableDiagnostics=0: no diagnostic IPC socket in /tmp, so a read-only root file system works.
# DOTNET_USE_POLLING_FILE_WATCHER: inotify does not report host-side edits of a bind-mounted
# /app/appsettings.json; polling (a stat every few seconds) does, so live reload works in containers.
ENV Gateway__Handlers__file__Directory=/data/frames \
    DOTNET_EnableDiagnostics=0 \
    DOTNET_USE_POLLING_FILE_WATCHER=true

# /data holds the file handler's output (frames/<socket>.jsonl). Owned by app (uid 1654) so a fresh
# named volume is writable; mount a volume or a host directory writable by uid 1654 there.
RUN mkdir -p /data/frames && chown -R app:app /data
VOLUME /data

COPY --from=build /app ./

# Plug-ins (docs/plugins.md): one folder each under /app/plugins (Gateway:Plugins:Directory's default,
# plugins/ beside the app), read-only. COPY them in from a derived image, or mount them there.
RUN mkdir -p /app/plugins

USER app
EXPOSE 8080
# No HEALTHCHECK: the image has no curl/wget. Probe GET /health/live and /health/ready from the
# orchestrator (deploy/compose.yaml, deploy/kubernetes/deployment.yaml).
ENTRYPOINT ["dotnet", "Gateway.Host.dll"]

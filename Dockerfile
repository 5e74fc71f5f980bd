# SharpGPT server image: build with the .NET SDK, run on the ASP.NET runtime as a non-root user.
# The model is mounted as a volume:   docker run -p 8080:8080 -v /path/to/model:/models:ro sharpgpt --model /models
# Without --model the built-in default model (baked into the image) is served.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/SharpGpt.Cli -c Release --nologo -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app .
# The aspnet image ships an unprivileged "app" user (uid 1654).
USER $APP_UID
EXPOSE 8080
VOLUME ["/models"]
ENTRYPOINT ["dotnet", "sharpgpt.dll", "serve", "--urls", "http://0.0.0.0:8080"]

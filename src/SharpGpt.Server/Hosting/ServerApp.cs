using Microsoft.Extensions.Options;
using Prometheus;
using SharpGpt.Server.Api.Chat;
using SharpGpt.Server.Api.Completions;
using SharpGpt.Server.Api.Health;
using SharpGpt.Server.Api.Models;
using SharpGpt.Server.Errors;
using SharpGpt.Server.Observability;
using SharpGpt.Server.Security;

namespace SharpGpt.Server.Hosting;

/// <summary>
/// Composes the server: options bound and validated once, the model registry (loaded at start-up), metrics,
/// API keys, CORS, OpenAPI, the /v1 endpoints, health, and the demo page at /. Binds to loopback by default.
/// </summary>
public static class ServerApp
{
    public const string DefaultUrls = "http://127.0.0.1:8080";

    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? settings = null)
    {
        try
        {
            return BuildCore(args, settings);
        }
        catch (OptionsValidationException ex)
        {
            throw new Model.SharpGptException("invalid server options: " + string.Join("; ", ex.Failures));
        }
    }

    private static WebApplication BuildCore(string[] args, IReadOnlyDictionary<string, string?>? settings)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (settings != null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        if (builder.Configuration["urls"] == null && builder.Configuration["ASPNETCORE_URLS"] == null && Environment.GetEnvironmentVariable("ASPNETCORE_URLS") == null)
        {
            builder.WebHost.UseUrls(DefaultUrls);
        }
        ConfigureServices(builder);
        WebApplication app = builder.Build();
        Configure(app);
        // Load the models now: a bad folder or an impossible KV budget stops the server before it listens.
        app.Services.GetRequiredService<ModelRegistry>();
        return app;
    }

    public static void ConfigureServices(WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ServerOptions>().Bind(builder.Configuration.GetSection(ServerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddSingleton<ServerMetrics>();
        builder.Services.AddSingleton<ApiKeyAuthentication>();
        builder.Services.AddOpenApi();
        builder.Services.AddCors();
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(kestrel =>
            kestrel.Limits.MaxRequestBodySize = builder.Configuration.GetValue<long?>($"{ServerOptions.Section}:MaxRequestBodyBytes") ?? 1 << 20);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
    }

    public static void Configure(WebApplication app)
    {
        ServerOptions options = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
        app.UseApiErrors();
        if (options.CorsOrigins.Count > 0)
        {
            app.UseCors(cors =>
            {
                cors = options.CorsOrigins.Contains("*") ? cors.AllowAnyOrigin() : cors.WithOrigins([.. options.CorsOrigins]);
                cors.AllowAnyHeader().WithMethods("GET", "POST", "OPTIONS");
            });
        }
        ApiKeyAuthentication.UseApiKeys(app);
        DemoPage.Map(app);
        app.MapOpenApi();
        app.MapHealthApi();
        app.MapModelsApi();
        app.MapCompletionsApi();
        app.MapChatCompletionsApi();
        app.MapMetrics(registry: app.Services.GetRequiredService<ServerMetrics>().Registry);
        app.MapFallback("/v1/{**path}", (HttpContext context) =>
            throw new ApiError(404, $"Unknown endpoint {context.Request.Method} {context.Request.Path}.", code: "unknown_url"));
        app.Lifetime.ApplicationStopping.Register(() => app.Services.GetRequiredService<ModelRegistry>().Dispose());
    }
}

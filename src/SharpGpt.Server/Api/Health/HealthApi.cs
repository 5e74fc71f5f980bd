using SharpGpt.Server.Hosting;

namespace SharpGpt.Server.Api.Health;

/// <summary>GET /health (the process is alive) and /ready (every model is loaded and its engine running).</summary>
public static class HealthApi
{
    public static void MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => Results.Ok(new { status = "ok" })).WithName("Health");
        app.MapGet("/ready", (ModelRegistry models) => models.Ready
                ? Results.Ok(new
                {
                    status = "ready",
                    models = models.Models.Select(m => new
                    {
                        id = m.Id,
                        active_sequences = m.Engine.Statistics.ActiveSequences,
                        queue_depth = m.Engine.Statistics.QueueDepth,
                        max_batch = m.Engine.Options.MaxSequences,
                        max_context = m.Engine.MaxContext,
                    }),
                })
                : Results.Json(new { status = "not ready" }, statusCode: 503))
            .WithName("Ready");
    }
}

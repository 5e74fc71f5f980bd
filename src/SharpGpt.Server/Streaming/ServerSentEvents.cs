using System.Text.Json;
using SharpGpt.Server.Errors;

namespace SharpGpt.Server.Streaming;

/// <summary>Server-sent events as the OpenAI API streams them: "data: {json}\n\n" lines, ending with "data: [DONE]".</summary>
public sealed class ServerSentEvents(HttpResponse response)
{
    public void Start()
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
    }

    public async Task SendAsync<T>(T payload, CancellationToken cancellation)
    {
        await response.WriteAsync("data: " + JsonSerializer.Serialize(payload, ServerJson.Options) + "\n\n", cancellation);
        await response.Body.FlushAsync(cancellation);
    }

    public async Task DoneAsync(CancellationToken cancellation)
    {
        await response.WriteAsync("data: [DONE]\n\n", cancellation);
        await response.Body.FlushAsync(cancellation);
    }
}

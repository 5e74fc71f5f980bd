using Microsoft.Extensions.Options;
using SharpGpt.Server.Errors;
using SharpGpt.Server.Hosting;

namespace SharpGpt.Server.Api;

/// <summary>
/// Per-request plumbing shared by the /v1 endpoints: the cancellation token (client abort or timeout), the
/// model lookup (404 for unknown ids), and turning a timeout into an OpenAI-style error.
/// </summary>
public sealed class RequestScope : IDisposable
{
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationTokenSource _linked;

    public RequestScope(HttpContext context)
    {
        Options = context.RequestServices.GetRequiredService<IOptions<ServerOptions>>().Value;
        Models = context.RequestServices.GetRequiredService<ModelRegistry>();
        _timeout = new CancellationTokenSource(TimeSpan.FromSeconds(Options.RequestTimeoutSeconds));
        _linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _timeout.Token);
        Aborted = context.RequestAborted;
    }

    public ServerOptions Options { get; }

    public ModelRegistry Models { get; }

    /// <summary>Cancelled when the client disconnects or the request times out.</summary>
    public CancellationToken Token => _linked.Token;

    public CancellationToken Aborted { get; }

    public bool TimedOut => _timeout.IsCancellationRequested && !Aborted.IsCancellationRequested;

    /// <summary>Cancels the engine work of this request (for example when one of several submissions was refused).</summary>
    public void Cancel() => _linked.Cancel();

    public ServedModel Model(string id) =>
        Models.TryGet(id, out ServedModel model)
            ? model
            : throw new ApiError(404, $"The model '{id}' does not exist. GET /v1/models lists the models served here.", param: "model", code: "model_not_found");

    public ApiError TimeoutError() => new(408, $"The request did not finish within {Options.RequestTimeoutSeconds} s.", "timeout", code: "timeout");

    public void Dispose()
    {
        _linked.Dispose();
        _timeout.Dispose();
    }
}

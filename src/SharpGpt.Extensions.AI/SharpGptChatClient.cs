using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using SharpGpt.Inference;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Inference.Serving;

namespace SharpGpt.Extensions.AI;

/// <summary>
/// <see cref="IChatClient"/> over a SharpGPT model, in-process: Semantic Kernel and other Microsoft.Extensions.AI
/// applications use a local GPT with no HTTP hop. Requests share the continuous-batching engine, so concurrent
/// callers are batched exactly as the server batches them, with the same chat template.
/// </summary>
public sealed class SharpGptChatClient : IChatClient
{
    private readonly GenerationEngine _engine;
    private readonly bool _ownsEngine;
    private readonly string _modelId;

    /// <summary>Wraps an existing engine (shared with, for example, a server in the same process).</summary>
    public SharpGptChatClient(GenerationEngine engine, string modelId)
    {
        _engine = engine;
        _modelId = modelId;
    }

    /// <summary>Loads a model folder (or the built-in model when null) and owns its engine.</summary>
    public SharpGptChatClient(string? modelDirectory = null, EngineOptions? options = null)
    {
        LanguageModel model = LanguageModel.LoadOrDefault(modelDirectory);
        _engine = new GenerationEngine(model, options ?? new EngineOptions { MaxSequences = 4, MaxTokensPerStep = 128 });
        _ownsEngine = true;
        _modelId = modelDirectory == null ? "sharpgpt-default" : model.Name;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        Completed? completed = null;
        await foreach (EngineEvent e in Submit(messages, options, cancellationToken).ReadAllAsync(cancellationToken))
        {
            if (e is TokenGenerated token)
            {
                text.Append(token.Token.Text);
            }
            else if (e is Completed done)
            {
                completed = done;
            }
        }
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString().TrimStart()))
        {
            ModelId = _modelId,
            ResponseId = Guid.NewGuid().ToString("N"),
            FinishReason = Finish(completed?.Reason),
            Usage = completed == null ? null : new UsageDetails
            {
                InputTokenCount = completed.PromptTokens,
                OutputTokenCount = completed.CompletionTokens,
                TotalTokenCount = completed.PromptTokens + completed.CompletionTokens,
            },
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string responseId = Guid.NewGuid().ToString("N");
        bool first = true;
        await foreach (EngineEvent e in Submit(messages, options, cancellationToken).ReadAllAsync(cancellationToken))
        {
            if (e is TokenGenerated token)
            {
                string text = first ? token.Token.Text.TrimStart() : token.Token.Text;
                first = false;
                yield return new ChatResponseUpdate(ChatRole.Assistant, text)
                {
                    ModelId = _modelId,
                    ResponseId = responseId,
                    FinishReason = Finish(token.Token.Finish),
                };
            }
        }
    }

    private ChannelReader<EngineEvent> Submit(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellation)
    {
        string prompt = ChatPrompt.Render(messages.Select(m => new ChatTurn(m.Role.Value, m.Text ?? "")));
        var tokenizer = _engine.Model.RequireTokenizer();
        int[] ids = tokenizer.Encode(prompt);
        int room = Math.Max(1, _engine.MaxContext - ids.Length);
        var generation = new GenerationOptions
        {
            MaxTokens = Math.Min(options?.MaxOutputTokens ?? 256, room),
            Stop = [.. ChatPrompt.TurnStops, .. options?.StopSequences ?? []],
            Sampling = new SamplingOptions
            {
                Temperature = options?.Temperature ?? 0.8f,
                TopP = options?.TopP ?? 1f,
                TopK = options?.TopK ?? 0,
                PresencePenalty = options?.PresencePenalty ?? 0,
                FrequencyPenalty = options?.FrequencyPenalty ?? 0,
                Seed = options?.Seed is long seed ? unchecked((ulong)seed) : null,
            },
        };
        return _engine.TrySubmit(new EngineRequest { Prompt = ids, Options = generation }, cancellation)
            ?? throw new InvalidOperationException("The engine's queue is full; try again shortly.");
    }

    private static ChatFinishReason? Finish(FinishReason? reason) => reason switch
    {
        FinishReason.Stop => ChatFinishReason.Stop,
        FinishReason.Length => ChatFinishReason.Length,
        _ => null,
    };

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey != null ? null
        : serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("SharpGPT", null, _modelId)
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType.IsInstanceOfType(_engine) ? _engine
        : null;

    public void Dispose()
    {
        if (_ownsEngine)
        {
            _engine.Dispose();
            _engine.Model.Dispose();
        }
    }
}

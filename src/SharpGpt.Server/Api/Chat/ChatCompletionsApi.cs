using System.Text;
using System.Threading.Channels;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Serving;
using SharpGpt.Server.Api.Completions;
using SharpGpt.Server.Errors;
using SharpGpt.Server.Hosting;
using SharpGpt.Server.Observability;
using SharpGpt.Server.Streaming;

namespace SharpGpt.Server.Api.Chat;

/// <summary>POST /v1/chat/completions over the plain-text chat template, streaming and non-streaming.</summary>
public static class ChatCompletionsApi
{
    public static void MapChatCompletionsApi(this IEndpointRouteBuilder app) =>
        app.MapPost("/v1/chat/completions", (Delegate)Handle)
            .WithName("CreateChatCompletion")
            .WithSummary("Creates a chat completion (plain-text chat template over a base model).")
            .Accepts<object>("application/json")
            .Produces<ChatCompletion>()
            .Produces<ErrorBody>(400).Produces<ErrorBody>(401).Produces<ErrorBody>(404).Produces<ErrorBody>(413).Produces<ErrorBody>(429);

    private static async Task Handle(HttpContext context)
    {
        context.RequestServices.GetRequiredService<ServerMetrics>().Request("chat");
        using var scope = new RequestScope(context);
        RequestReader r = await RequestReader.ReadAsync(context.Request, scope.Options.MaxRequestBodyBytes, context.RequestAborted);
        r.RejectUnsupported("tools", "functions", "tool_choice", "function_call", "response_format", "audio", "modalities", "prediction");
        ServedModel model = scope.Model(r.String("model") ?? scope.Models.Single?.Id ?? throw ApiError.BadRequest("You must provide a model parameter.", "model"));
        IReadOnlyList<ChatTurn> messages = ChatTemplate.Parse(r.Get("messages"));
        int n = r.Integer("n", 1, 128) ?? 1;
        bool stream = r.Bool("stream", false);
        bool includeUsage = stream && r.Get("stream_options") is { } so && new RequestReader(so).Bool("include_usage", false);
        bool logprobs = r.Bool("logprobs", false);
        int top = r.Integer("top_logprobs", 0, 20) ?? 0;
        if (top > 0 && !logprobs)
        {
            throw ApiError.BadRequest("top_logprobs requires logprobs: true.", "top_logprobs");
        }
        int? maxTokens = r.Integer("max_completion_tokens", 0, int.MaxValue) ?? r.Integer("max_tokens", 0, int.MaxValue);
        var sampling = CompletionRequest.ParseSampling(r, model.Model.Config.VocabSize, CompletionRequest.ParseSeed(r));
        IReadOnlyList<string> stops = r.Stop();

        (int[] prompt, string promptText) = GenerationRun.Tokenize(model, ChatTemplate.Render(messages), null);
        int budget = GenerationRun.ResolveMaxTokens(model, prompt.Length, maxTokens, maxTokens == null ? "messages" : "max_tokens");
        var runs = new List<GenerationRun>();
        try
        {
            for (int i = 0; i < n; i++)
            {
                var options = new GenerationOptions
                {
                    MaxTokens = budget,
                    Stop = [.. ChatTemplate.TurnStops, .. stops],
                    TopLogprobs = logprobs ? Math.Max(top, 0) : 0,
                    Sampling = GenerationRun.ForSample(sampling, i),
                };
                runs.Add(GenerationRun.Submit(model, i, 0, prompt, promptText, options, false, 0, scope.Token));
            }
        }
        catch
        {
            scope.Cancel();
            throw;
        }
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N")[..24];
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            if (stream)
            {
                await StreamAsync(context, scope, model, runs, id, created, logprobs, includeUsage);
                return;
            }
            RunResult[] results = await Task.WhenAll(runs.Select(run => run.CollectAsync(scope.Token)));
            var choices = runs.Zip(results).Select(x => new ChatChoice(x.First.ChoiceIndex, new ChatResponseMessage("assistant", x.Second.Text.TrimStart()),
                logprobs ? Logprobs(model, x.Second.Tokens) : null, GenerationRun.FinishName(x.Second.Finish))).ToList();
            int completionTokens = results.Sum(x => x.Tokens.Count);
            await context.Response.WriteAsJsonAsync(new ChatCompletion(id, "chat.completion", created, model.Id, model.Fingerprint, choices,
                new Usage(prompt.Length, completionTokens, prompt.Length + completionTokens)), ServerJson.Options, scope.Token);
        }
        catch (OperationCanceledException) when (scope.TimedOut && !context.Response.HasStarted)
        {
            throw scope.TimeoutError();
        }
    }

    private static ChatLogprobs Logprobs(ServedModel model, IEnumerable<GenerationEvent> tokens)
    {
        var builder = new CompletionLogprobsBuilder(model);
        ChatTopLogprob Top(int token, double logprob) =>
            new(builder.TokenText(token), logprob, model.Model.Tokenizer?.TokenBytes(token).ToArray().Select(b => (int)b).ToArray() ?? []);
        return new ChatLogprobs(tokens.Select(t =>
        {
            ChatTopLogprob self = Top(t.Token, t.Logprob);
            return new ChatTokenLogprob(self.Token, self.Logprob, self.Bytes, (t.TopLogprobs ?? []).Select(a => Top(a.Token, a.Logprob)).ToArray());
        }).ToArray());
    }

    private static async Task StreamAsync(HttpContext context, RequestScope scope, ServedModel model, List<GenerationRun> runs, string id, long created,
        bool logprobs, bool includeUsage)
    {
        var events = Channel.CreateUnbounded<(GenerationRun Run, EngineEvent? Event, Exception? Error)>();
        Task pumps = Task.WhenAll(runs.Select(async run =>
        {
            try
            {
                await foreach (EngineEvent e in run.Events.ReadAllAsync(scope.Token))
                {
                    await events.Writer.WriteAsync((run, e, null), CancellationToken.None);
                }
            }
            catch (Exception ex)
            {
                await events.Writer.WriteAsync((run, null, ex), CancellationToken.None);
            }
        })).ContinueWith(_ => events.Writer.TryComplete(), TaskScheduler.Default);
        var sse = new ServerSentEvents(context.Response);
        sse.Start();
        ChatCompletionChunk Chunk(int index, ChatDelta delta, ChatLogprobs? lp, string? finish) =>
            new(id, "chat.completion.chunk", created, model.Id, model.Fingerprint, [new ChatChunkChoice(index, delta, lp, finish)], null);
        foreach (GenerationRun run in runs)
        {
            await sse.SendAsync(Chunk(run.ChoiceIndex, new ChatDelta("assistant", ""), null, null), scope.Token);
        }
        var started = new HashSet<GenerationRun>();
        int completionTokens = 0;
        try
        {
            await foreach (var (run, e, error) in events.Reader.ReadAllAsync(scope.Token))
            {
                if (error != null)
                {
                    await CompletionsApi.EndWithErrorAsync(sse, scope, error);
                    return;
                }
                if (e is TokenGenerated generated)
                {
                    completionTokens++;
                    // The template ends with "Assistant:"; drop the space the model writes before its answer.
                    string text = started.Add(run) ? generated.Token.Text.TrimStart() : generated.Token.Text;
                    string? finish = generated.Token.Finish is FinishReason reason ? GenerationRun.FinishName(reason) : null;
                    await sse.SendAsync(Chunk(run.ChoiceIndex, new ChatDelta(null, text), logprobs ? Logprobs(model, [generated.Token]) : null, finish), scope.Token);
                }
            }
        }
        catch (OperationCanceledException ex) when (scope.TimedOut)
        {
            await CompletionsApi.EndWithErrorAsync(sse, scope, ex);
            return;
        }
        await pumps;
        if (includeUsage)
        {
            int promptTokens = runs[0].Prompt.Length;
            await sse.SendAsync(new ChatCompletionChunk(id, "chat.completion.chunk", created, model.Id, model.Fingerprint, [],
                new Usage(promptTokens, completionTokens, promptTokens + completionTokens)), scope.Token);
        }
        await sse.DoneAsync(scope.Token);
    }
}

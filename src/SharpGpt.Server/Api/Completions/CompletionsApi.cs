using System.Threading.Channels;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Serving;
using SharpGpt.Server.Errors;
using SharpGpt.Server.Hosting;
using SharpGpt.Server.Observability;
using SharpGpt.Server.Streaming;

namespace SharpGpt.Server.Api.Completions;

/// <summary>POST /v1/completions: the legacy Completions contract, streaming and non-streaming.</summary>
public static class CompletionsApi
{
    public static void MapCompletionsApi(this IEndpointRouteBuilder app) =>
        app.MapPost("/v1/completions", (Delegate)Handle)
            .WithName("CreateCompletion")
            .WithSummary("Creates a completion for the prompt(s) (OpenAI legacy Completions API).")
            .Accepts<object>("application/json")
            .Produces<CompletionResponse>()
            .Produces<ErrorBody>(400).Produces<ErrorBody>(401).Produces<ErrorBody>(404).Produces<ErrorBody>(413).Produces<ErrorBody>(429);

    private static async Task Handle(HttpContext context)
    {
        context.RequestServices.GetRequiredService<ServerMetrics>().Request("completions");
        using var scope = new RequestScope(context);
        RequestReader reader = await RequestReader.ReadAsync(context.Request, scope.Options.MaxRequestBodyBytes, context.RequestAborted);
        ServedModel? single = scope.Models.Single;
        CompletionRequest request = CompletionRequest.Parse(reader, single?.Id, (single ?? scope.Models.Models.First()).Model.Config.VocabSize);
        ServedModel model = scope.Model(request.Model);
        if (model != single)
        {
            request = CompletionRequest.Parse(reader, null, model.Model.Config.VocabSize);
        }

        // Tokenize and check every prompt before anything is queued.
        var prompts = request.Prompts.Select(p => GenerationRun.Tokenize(model, p.Text, p.Tokens)).ToList();
        int[] maxTokens = prompts.Select(p => GenerationRun.ResolveMaxTokens(model, p.Tokens.Length, request.MaxTokens)).ToArray();
        var runs = new List<GenerationRun>();
        try
        {
            for (int p = 0; p < prompts.Count; p++)
            {
                for (int sample = 0; sample < request.BestOf; sample++)
                {
                    var options = new GenerationOptions
                    {
                        MaxTokens = maxTokens[p],
                        Stop = request.Stop,
                        TopLogprobs = request.Logprobs ?? 0,
                        Sampling = GenerationRun.ForSample(request.Sampling, sample),
                    };
                    runs.Add(GenerationRun.Submit(model, p * request.N + sample, p, prompts[p].Tokens, prompts[p].Text, options,
                        scorePrompt: request.Echo && request.Logprobs != null, promptTopLogprobs: request.Logprobs ?? 0, scope.Token));
                }
            }
        }
        catch
        {
            scope.Cancel();
            throw;
        }

        string id = "cmpl-" + Guid.NewGuid().ToString("N")[..24];
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            if (request.Stream)
            {
                await StreamAsync(context, scope, model, request, runs, id, created);
            }
            else
            {
                await context.Response.WriteAsJsonAsync(await CollectAsync(scope, model, request, runs, id, created), ServerJson.Options, scope.Token);
            }
        }
        catch (OperationCanceledException) when (scope.TimedOut && !context.Response.HasStarted)
        {
            throw scope.TimeoutError();
        }
    }

    private static async Task<CompletionResponse> CollectAsync(RequestScope scope, ServedModel model, CompletionRequest request, List<GenerationRun> runs,
        string id, long created)
    {
        RunResult[] results = await Task.WhenAll(runs.Select(r => r.CollectAsync(scope.Token)));
        var choices = new List<CompletionChoice>();
        foreach (var group in runs.Zip(results).GroupBy(x => x.First.PromptIndex))
        {
            // best_of: keep the n candidates with the highest mean token log-probability.
            var best = group.OrderByDescending(x => x.Second.MeanLogprob).Take(request.N).OrderBy(x => x.First.ChoiceIndex).ToList();
            for (int k = 0; k < best.Count; k++)
            {
                (GenerationRun run, RunResult result) = best[k];
                choices.Add(new CompletionChoice(
                    (request.Echo ? run.PromptText : "") + result.Text,
                    run.PromptIndex * request.N + k,
                    request.Logprobs == null ? null : Logprobs(model, request, run, result),
                    GenerationRun.FinishName(result.Finish)));
            }
        }
        int promptTokens = runs.GroupBy(r => r.PromptIndex).Sum(g => g.First().Prompt.Length);
        int completionTokens = results.Sum(r => r.Tokens.Count);
        return new CompletionResponse(id, "text_completion", created, model.Id, Fingerprint(model), choices,
            new Usage(promptTokens, completionTokens, promptTokens + completionTokens));
    }

    private static CompletionLogprobs Logprobs(ServedModel model, CompletionRequest request, GenerationRun run, RunResult result)
    {
        var builder = new CompletionLogprobsBuilder(model);
        if (request.Echo)
        {
            builder.AddPrompt(run.Prompt, result.PromptScores);
        }
        else
        {
            builder.Offset = run.PromptText.Length;
        }
        foreach (GenerationEvent token in result.Tokens)
        {
            builder.AddGenerated(token);
        }
        return builder.Build();
    }

    private static async Task StreamAsync(HttpContext context, RequestScope scope, ServedModel model, CompletionRequest request,
        List<GenerationRun> runs, string id, long created)
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
        var offsets = runs.ToDictionary(r => r, r => request.Echo ? 0 : r.PromptText.Length);
        var finished = new HashSet<GenerationRun>();
        bool echoSent = false;
        int completionTokens = 0;
        CompletionResponse Chunk(GenerationRun run, string text, CompletionLogprobs? logprobs, string? finish) =>
            new(id, "text_completion", created, model.Id, Fingerprint(model), [new CompletionChoice(text, run.ChoiceIndex, logprobs, finish)], null);

        if (request.Echo && request.Logprobs == null)
        {
            foreach (GenerationRun run in runs)
            {
                await sse.SendAsync(Chunk(run, run.PromptText, null, null), scope.Token);
            }
            echoSent = true;
        }
        try
        {
            await foreach (var (run, e, error) in events.Reader.ReadAllAsync(scope.Token))
            {
            switch (e)
            {
                case PromptScored scored when !echoSent:
                    var promptLogprobs = new CompletionLogprobsBuilder(model).AddPrompt(run.Prompt, scored.Scores);
                    offsets[run] = promptLogprobs.Offset;
                    await sse.SendAsync(Chunk(run, run.PromptText, promptLogprobs.Build(), null), scope.Token);
                    break;
                case TokenGenerated generated:
                    completionTokens++;
                    CompletionLogprobs? logprobs = null;
                    if (request.Logprobs != null)
                    {
                        var builder = new CompletionLogprobsBuilder(model) { Offset = offsets[run] };
                        logprobs = builder.AddGenerated(generated.Token).Build();
                        offsets[run] = builder.Offset;
                    }
                    string? finish = generated.Token.Finish is FinishReason reason ? GenerationRun.FinishName(reason) : null;
                    if (finish != null)
                    {
                        finished.Add(run);
                    }
                    await sse.SendAsync(Chunk(run, generated.Token.Text, logprobs, finish), scope.Token);
                    break;
                case Completed completed when finished.Add(run):
                    // No generated token carried the finish (max_tokens 0): close the choice explicitly.
                    await sse.SendAsync(Chunk(run, "", null, GenerationRun.FinishName(completed.Reason)), scope.Token);
                    break;
            }
            if (error != null)
            {
                await EndWithErrorAsync(sse, scope, error);
                return;
            }
            }
        }
        catch (OperationCanceledException ex) when (scope.TimedOut)
        {
            await EndWithErrorAsync(sse, scope, ex);
            return;
        }
        await pumps;
        if (request.IncludeUsage)
        {
            int promptTokens = runs.GroupBy(r => r.PromptIndex).Sum(g => g.First().Prompt.Length);
            await sse.SendAsync(new CompletionResponse(id, "text_completion", created, model.Id, Fingerprint(model), [],
                new Usage(promptTokens, completionTokens, promptTokens + completionTokens)), scope.Token);
        }
        await sse.DoneAsync(scope.Token);
    }

    /// <summary>A stream that cannot finish ends with an error event (as OpenAI does) and [DONE], unless the client is gone.</summary>
    internal static async Task EndWithErrorAsync(ServerSentEvents sse, RequestScope scope, Exception error)
    {
        if (scope.Aborted.IsCancellationRequested)
        {
            return;
        }
        ApiError apiError = scope.TimedOut ? scope.TimeoutError() : new ApiError(500, "Generation failed: " + error.Message, "server_error");
        await sse.SendAsync(apiError.Body, CancellationToken.None);
        await sse.DoneAsync(CancellationToken.None);
    }

    /// <summary>Identifies the model behind an answer (same fingerprint + seed ⇒ same output).</summary>
    public static string Fingerprint(ServedModel model) => model.Fingerprint;
}

using System.Diagnostics;
using System.Threading.Channels;
using SharpGpt.Evaluation.Metrics;
using SharpGpt.Evaluation.Scoring;
using SharpGpt.Evaluation.Tasks;
using SharpGpt.Inference;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Inference.Serving;
using SharpGpt.Model;
using SharpGpt.Model.Backends;
using SharpGpt.Model.Inference;

namespace SharpGpt.Evaluation;

/// <summary>Options of an evaluation run.</summary>
public sealed record EvalOptions
{
    public IReadOnlyList<int> Shots { get; init; } = [0];
    public int? Limit { get; init; }
    public ulong Seed { get; init; } = 1234;
    public EvalFormat Format { get; init; } = EvalFormat.LmEval;
}

/// <summary>Progress for the console: examples done of the total.</summary>
public readonly record struct EvalProgress(string Task, int Shots, int Done, int Total, double Seconds);

/// <summary>
/// Runs tasks at each shot count: builds each example's few-shot prompt (reducing K when it would not fit the
/// context), scores continuations by log-likelihood through the shared KV-cache path, or generates greedily,
/// and aggregates the metrics with standard errors.
/// </summary>
public sealed class EvalRunner : IDisposable
{
    /// <summary>Slots at least: every choice of an ordinary multiple-choice question in one wave.</summary>
    public const int MinimumSlots = 8;

    /// <summary>Slots at most: 32 fill 512-row steps with the continuations of ~8 HellaSwag-sized questions.</summary>
    public const int MaximumSlots = 32;

    /// <summary>
    /// KV cache the runner may take for batching (the built-in model needs 8 MiB a slot, GPT-2 124M 72 MiB, so
    /// the built-in model gets 32 slots and GPT-2 the minimum of 8).
    /// </summary>
    public const long DefaultKvBudgetBytes = 256L << 20;

    private readonly LanguageModel _model;
    private readonly IInferenceSession _session;
    private readonly LoglikelihoodScorer _scorer;

    /// <param name="slots">KV slots scored together; by default as many as <see cref="DefaultKvBudgetBytes"/> allows.</param>
    public EvalRunner(LanguageModel model, int maxTokensPerStep = 512, int? slots = null)
    {
        _model = model;
        GptConfig config = model.Model.Config;
        long perSlot = KvCache.BytesPerSlot(config, config.ContextLength, maxTokensPerStep);
        int count = slots ?? (int)Math.Clamp(DefaultKvBudgetBytes / perSlot, MinimumSlots, MaximumSlots);
        _session = ComputeBackends.Default.CreateInferenceSession(model.Model, slots: count, maxTokensPerStep: maxTokensPerStep);
        _scorer = new LoglikelihoodScorer(_session, model.RequireTokenizer());
    }

    /// <summary>KV slots scored together.</summary>
    public int Slots => _session.SlotCount;

    public TaskResult Run(LoadedTask task, int shots, EvalOptions options, IProgress<EvalProgress>? progress = null, CancellationToken cancellation = default)
    {
        IReadOnlyList<EvalItem> items = options.Limit is int limit ? task.Items.Take(limit).ToList() : task.Items;
        var examples = new List<ExampleResult>(items.Count);
        int reduced = 0, minimumShots = shots;
        var clock = Stopwatch.StartNew();
        // Generation tasks decode a block of examples together through a batching engine of as many slots (its own
        // KV cache, released with the task); greedy decoding on row-invariant kernels gives each example the tokens
        // it would get alone.
        using GenerationEngine? engine = task.Task.Kind == TaskKind.Generation
            ? new GenerationEngine(_model, new EngineOptions
            {
                MaxSequences = _session.SlotCount,
                MaxTokensPerStep = Math.Max(_session.MaxTokensPerStep, _session.SlotCount),
                MaxContext = _session.MaxContext,
                QueueLength = _session.SlotCount,
            })
            : null;
        // Items are handled a block at a time, so that the scorer can pack several into each wave and the engine
        // decode several at once.
        foreach (EvalItem[] block in items.Chunk(_session.SlotCount))
        {
            cancellation.ThrowIfCancellationRequested();
            var prompts = new List<(EvalItem Item, string Prefix, int Shots)>(block.Length);
            foreach (EvalItem item in block)
            {
                int[] chosen = FewShotPromptBuilder.Choose(task, item, shots, options.Seed);
                int used = FitShots(task, item, chosen);
                if (used < shots)
                {
                    reduced++;
                    minimumShots = Math.Min(minimumShots, used);
                }
                prompts.Add((item, FewShotPromptBuilder.Prefix(task, chosen, used), used));
            }
            examples.AddRange(engine != null
                ? GenerateBlock(engine, task.Task, prompts, cancellation)
                : ScoreBlock(task.Task, prompts));
            progress?.Report(new EvalProgress(task.Task.Name, shots, examples.Count, items.Count, clock.Elapsed.TotalSeconds));
        }
        var metricNames = examples.SelectMany(e => e.Metrics.Keys).Distinct().ToList();
        var metrics = metricNames.Select(name => name == "perplexity"
            ? Aggregate.Perplexity(name, examples.Select(e => e.LogLikelihoods![0]).ToList())
            : Aggregate.Mean(name, examples.Select(e => e.Metrics[name]).ToList())).ToList();
        return new TaskResult(task.Task.Name, shots, task.Task.PrimaryMetric(options.Format), metrics, examples, reduced, minimumShots, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Scores a block of log-likelihood items together: every item's scoring requests go to the scorer in one
    /// call, then each item's result is built from its share of the scores.
    /// </summary>
    private IEnumerable<ExampleResult> ScoreBlock(EvalTask task, List<(EvalItem Item, string Prefix, int Shots)> prompts)
    {
        var requests = new List<ScoringRequest>();
        var firsts = new List<int>(prompts.Count);
        foreach ((EvalItem item, string prefix, _) in prompts)
        {
            firsts.Add(requests.Count);
            requests.AddRange(Requests(task, item, prefix));
        }
        ChoiceScore[][] scores = _scorer.ScoreMany(requests);
        return prompts.Select((p, i) =>
        {
            int end = i + 1 < firsts.Count ? firsts[i + 1] : scores.Length;
            ChoiceScore[][] own = scores[firsts[i]..end];
            return task.Kind switch
            {
                TaskKind.MultipleChoice => MultipleChoice(task, p.Item, p.Prefix, p.Shots, own),
                TaskKind.PartialScoring => Partial(task, p.Item, p.Prefix, p.Shots, own),
                _ => LanguageModeling(task, p.Item, p.Prefix, p.Shots, own),
            };
        }).ToList();
    }

    /// <summary>
    /// What one item needs scored. Multiple choice: the context with every choice (then the unconditional
    /// context with every choice, for tasks that normalise by it). Partial scoring: each context option with the
    /// shared continuation. Language modelling: the context with its target.
    /// </summary>
    private static IEnumerable<ScoringRequest> Requests(EvalTask task, EvalItem item, string prefix)
    {
        switch (task.Kind)
        {
            case TaskKind.MultipleChoice:
                string[] continuations = MultipleChoiceContinuations(task, item);
                yield return new ScoringRequest(prefix + task.QueryText(item), continuations);
                if (task.UnconditionalContext != null)
                {
                    yield return new ScoringRequest(task.UnconditionalContext, continuations);
                }
                break;
            case TaskKind.PartialScoring:
                for (int i = 0; i < item.Choices.Count; i++)
                {
                    yield return new ScoringRequest(prefix + task.QueryText(item, i), [task.ContinuationDelimiter + item.Target]);
                }
                break;
            default:
                yield return new ScoringRequest(prefix + task.QueryText(item), [task.ContinuationDelimiter + item.Target]);
                break;
        }
    }

    private static string[] MultipleChoiceContinuations(EvalTask task, EvalItem item) =>
        item.Choices.Select(c => task.ContinuationDelimiter + c).ToArray();

    /// <summary>The largest K ≤ the chosen count whose prompt, with the longest continuation, fits the context.</summary>
    private int FitShots(LoadedTask task, EvalItem item, int[] chosen)
    {
        EvalTask t = task.Task;
        string longestQuery = t.Kind == TaskKind.PartialScoring ? item.Choices.MaxBy(c => c.Length)! + t.QuerySuffix : t.QueryText(item);
        string longestAnswer = t.Kind == TaskKind.MultipleChoice
            ? t.ContinuationDelimiter + item.Choices.MaxBy(c => c.Length)
            : t.Kind == TaskKind.Generation ? new string('x', 4 * t.MaxGeneratedTokens) : t.ContinuationDelimiter + item.Target;
        for (int k = chosen.Length; k >= 0; k--)
        {
            string prompt = FewShotPromptBuilder.Prefix(task, chosen, k) + longestQuery + longestAnswer;
            if (k == 0 || _scorer.Encode(prompt).Length <= _scorer.MaxContext)
            {
                return k;
            }
        }
        return 0;
    }

    private static ExampleResult MultipleChoice(EvalTask task, EvalItem item, string prefix, int shots, ChoiceScore[][] scored)
    {
        string context = prefix + task.QueryText(item);
        string[] continuations = MultipleChoiceContinuations(task, item);
        ChoiceScore[] scores = scored[0];
        double[] ll = scores.Select(s => s.LogLikelihood).ToArray();
        var metrics = new Dictionary<string, double>
        {
            ["acc"] = ArgMax(ll) == item.Gold ? 1 : 0,
            // lm-eval acc_norm: log-likelihood per character of the choice.
            ["acc_norm"] = ArgMax(ll.Select((l, i) => l / Math.Max(1, item.Choices[i].Length))) == item.Gold ? 1 : 0,
            // GPT-3: per-token normalised log-likelihood.
            ["acc_per_token"] = ArgMax(ll.Select((l, i) => l / Math.Max(1, scores[i].Tokens))) == item.Gold ? 1 : 0,
        };
        double[]? unconditional = null;
        if (task.UnconditionalContext != null)
        {
            unconditional = scored[1].Select(s => s.LogLikelihood).ToArray();
            // GPT-3: P(choice | context) / P(choice | "Answer:").
            metrics["acc_uncond"] = ArgMax(ll.Select((l, i) => l - unconditional[i])) == item.Gold ? 1 : 0;
        }
        int predicted = ArgMax(ll);
        return new ExampleResult
        {
            Task = task.Name, Shots = shots, Index = item.Index, Contexts = [context], Continuations = continuations,
            LogLikelihoods = ll, TokenCounts = scores.Select(s => s.Tokens).ToArray(), CharCounts = item.Choices.Select(c => c.Length).ToArray(),
            UnconditionalLogLikelihoods = unconditional, Predicted = predicted, Gold = item.Gold, Correct = predicted == item.Gold, Metrics = metrics,
        };
    }

    private static ExampleResult Partial(EvalTask task, EvalItem item, string prefix, int shots, ChoiceScore[][] scored)
    {
        // The continuation is the same under every context option: compare its log-likelihood (lm-eval's partial scoring).
        string continuation = task.ContinuationDelimiter + item.Target;
        string[] contexts = Enumerable.Range(0, item.Choices.Count).Select(i => prefix + task.QueryText(item, i)).ToArray();
        ChoiceScore[] scores = scored.Select(s => s[0]).ToArray();
        double[] ll = scores.Select(s => s.LogLikelihood).ToArray();
        int predicted = ArgMax(ll);
        return new ExampleResult
        {
            Task = task.Name, Shots = shots, Index = item.Index, Contexts = contexts, Continuations = [continuation], LogLikelihoods = ll,
            TokenCounts = scores.Select(s => s.Tokens).ToArray(), CharCounts = [continuation.Length], Predicted = predicted, Gold = item.Gold,
            Correct = predicted == item.Gold, Metrics = new Dictionary<string, double> { ["acc"] = predicted == item.Gold ? 1 : 0 },
        };
    }

    private static ExampleResult LanguageModeling(EvalTask task, EvalItem item, string prefix, int shots, ChoiceScore[][] scored)
    {
        string context = prefix + task.QueryText(item);
        string continuation = task.ContinuationDelimiter + item.Target;
        ChoiceScore score = scored[0][0];
        return new ExampleResult
        {
            Task = task.Name, Shots = shots, Index = item.Index, Contexts = [context], Continuations = [continuation],
            LogLikelihoods = [score.LogLikelihood], TokenCounts = [score.Tokens], CharCounts = [continuation.Length], IsGreedy = score.IsGreedy,
            Correct = score.IsGreedy, Target = item.Target,
            // acc: every token of the last word predicted greedily; perplexity from the log-likelihoods.
            Metrics = new Dictionary<string, double> { ["acc"] = score.IsGreedy ? 1 : 0, ["perplexity"] = score.LogLikelihood },
        };
    }

    /// <summary>Greedy generations of a block of examples, submitted together and read back in order.</summary>
    private List<ExampleResult> GenerateBlock(GenerationEngine engine, EvalTask task, List<(EvalItem Item, string Prefix, int Shots)> prompts,
        CancellationToken cancellation)
    {
        var options = new GenerationOptions { MaxTokens = task.MaxGeneratedTokens, Stop = task.StopSequences, Sampling = SamplingOptions.Greedy };
        var submitted = new List<(string Context, ChannelReader<EngineEvent> Events)>(prompts.Count);
        foreach ((EvalItem item, string prefix, _) in prompts)
        {
            string context = prefix + task.QueryText(item);
            int[] ids = _model.RequireTokenizer().Encode(context);
            int room = _session.MaxContext - task.MaxGeneratedTokens;
            if (ids.Length > room)
            {
                ids = ids[^room..];
            }
            // The queue holds a whole block, so a submission is never refused.
            var events = engine.TrySubmit(new EngineRequest { Prompt = ids, Options = options }, cancellation)
                ?? throw new InvalidOperationException("The evaluation engine refused a generation request.");
            submitted.Add((context, events));
        }
        var results = new List<ExampleResult>(prompts.Count);
        for (int i = 0; i < prompts.Count; i++)
        {
            (EvalItem item, _, int shots) = prompts[i];
            string generated = string.Concat(submitted[i].Events.ReadAllAsync(cancellation).ToBlockingEnumerable(cancellation)
                .OfType<TokenGenerated>().Select(e => e.Token.Text));
            double exact = AnswerMatch.ExactMatch(generated, item.Target);
            results.Add(new ExampleResult
            {
                Task = task.Name, Shots = shots, Index = item.Index, Contexts = [submitted[i].Context], Continuations = [task.ContinuationDelimiter + item.Target],
                Generated = generated, Target = item.Target, Correct = exact == 1,
                Metrics = new Dictionary<string, double> { ["exact_match"] = exact, ["f1"] = AnswerMatch.F1(generated, item.Target) },
            });
        }
        return results;
    }

    private static int ArgMax(IEnumerable<double> values)
    {
        int best = 0, i = 0;
        double bestValue = double.NegativeInfinity;
        foreach (double v in values)
        {
            if (v > bestValue)
            {
                bestValue = v;
                best = i;
            }
            i++;
        }
        return best;
    }

    public void Dispose() => _session.Dispose();
}

using System.Diagnostics;
using SharpGpt.Evaluation.Metrics;
using SharpGpt.Evaluation.Scoring;
using SharpGpt.Evaluation.Tasks;
using SharpGpt.Inference;
using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
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
    private const int MaxChoices = 8;
    private readonly LanguageModel _model;
    private readonly IInferenceSession _session;
    private readonly LoglikelihoodScorer _scorer;

    public EvalRunner(LanguageModel model, int maxTokensPerStep = 512)
    {
        _model = model;
        _session = ComputeBackends.Default.CreateInferenceSession(model.Model, slots: 1 + MaxChoices, maxTokensPerStep: maxTokensPerStep);
        _scorer = new LoglikelihoodScorer(_session, model.RequireTokenizer());
    }

    public TaskResult Run(LoadedTask task, int shots, EvalOptions options, IProgress<EvalProgress>? progress = null, CancellationToken cancellation = default)
    {
        IReadOnlyList<EvalItem> items = options.Limit is int limit ? task.Items.Take(limit).ToList() : task.Items;
        var examples = new List<ExampleResult>(items.Count);
        int reduced = 0, minimumShots = shots;
        var clock = Stopwatch.StartNew();
        foreach (EvalItem item in items)
        {
            cancellation.ThrowIfCancellationRequested();
            int[] chosen = FewShotPromptBuilder.Choose(task, item, shots, options.Seed);
            int used = FitShots(task, item, chosen);
            if (used < shots)
            {
                reduced++;
                minimumShots = Math.Min(minimumShots, used);
            }
            string prefix = FewShotPromptBuilder.Prefix(task, chosen, used);
            examples.Add(task.Task.Kind switch
            {
                TaskKind.MultipleChoice => MultipleChoice(task.Task, item, prefix, used),
                TaskKind.PartialScoring => Partial(task.Task, item, prefix, used),
                TaskKind.LanguageModeling => LanguageModeling(task.Task, item, prefix, used),
                _ => Generation(task.Task, item, prefix, used, cancellation),
            });
            progress?.Report(new EvalProgress(task.Task.Name, shots, examples.Count, items.Count, clock.Elapsed.TotalSeconds));
        }
        var metricNames = examples.SelectMany(e => e.Metrics.Keys).Distinct().ToList();
        var metrics = metricNames.Select(name => name == "perplexity"
            ? Aggregate.Perplexity(name, examples.Select(e => e.LogLikelihoods![0]).ToList())
            : Aggregate.Mean(name, examples.Select(e => e.Metrics[name]).ToList())).ToList();
        return new TaskResult(task.Task.Name, shots, task.Task.PrimaryMetric(options.Format), metrics, examples, reduced, minimumShots, clock.Elapsed.TotalSeconds);
    }

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

    private ExampleResult MultipleChoice(EvalTask task, EvalItem item, string prefix, int shots)
    {
        string context = prefix + task.QueryText(item);
        string[] continuations = item.Choices.Select(c => task.ContinuationDelimiter + c).ToArray();
        ChoiceScore[] scores = _scorer.Score(context, continuations);
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
            unconditional = _scorer.Score(task.UnconditionalContext, continuations).Select(s => s.LogLikelihood).ToArray();
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

    private ExampleResult Partial(EvalTask task, EvalItem item, string prefix, int shots)
    {
        // The continuation is the same under every context option: compare its log-likelihood (lm-eval's partial scoring).
        string continuation = task.ContinuationDelimiter + item.Target;
        string[] contexts = Enumerable.Range(0, item.Choices.Count).Select(i => prefix + task.QueryText(item, i)).ToArray();
        ChoiceScore[] scores = contexts.Select(c => _scorer.Score(c, [continuation])[0]).ToArray();
        double[] ll = scores.Select(s => s.LogLikelihood).ToArray();
        int predicted = ArgMax(ll);
        return new ExampleResult
        {
            Task = task.Name, Shots = shots, Index = item.Index, Contexts = contexts, Continuations = [continuation], LogLikelihoods = ll,
            TokenCounts = scores.Select(s => s.Tokens).ToArray(), CharCounts = [continuation.Length], Predicted = predicted, Gold = item.Gold,
            Correct = predicted == item.Gold, Metrics = new Dictionary<string, double> { ["acc"] = predicted == item.Gold ? 1 : 0 },
        };
    }

    private ExampleResult LanguageModeling(EvalTask task, EvalItem item, string prefix, int shots)
    {
        string context = prefix + task.QueryText(item);
        string continuation = task.ContinuationDelimiter + item.Target;
        ChoiceScore score = _scorer.Score(context, [continuation])[0];
        return new ExampleResult
        {
            Task = task.Name, Shots = shots, Index = item.Index, Contexts = [context], Continuations = [continuation],
            LogLikelihoods = [score.LogLikelihood], TokenCounts = [score.Tokens], CharCounts = [continuation.Length], IsGreedy = score.IsGreedy,
            Correct = score.IsGreedy, Target = item.Target,
            // acc: every token of the last word predicted greedily; perplexity from the log-likelihoods.
            Metrics = new Dictionary<string, double> { ["acc"] = score.IsGreedy ? 1 : 0, ["perplexity"] = score.LogLikelihood },
        };
    }

    private ExampleResult Generation(EvalTask task, EvalItem item, string prefix, int shots, CancellationToken cancellation)
    {
        string context = prefix + task.QueryText(item);
        var generator = new TextGenerator(_model);
        var options = new GenerationOptions { MaxTokens = task.MaxGeneratedTokens, Stop = task.StopSequences, Sampling = SamplingOptions.Greedy };
        int[] ids = _model.RequireTokenizer().Encode(context);
        int room = _session.MaxContext - task.MaxGeneratedTokens;
        if (ids.Length > room)
        {
            ids = ids[^room..];
        }
        string generated = string.Concat(generator.Generate(_session, 0, ids, options, cancellation).Select(e => e.Text));
        double exact = AnswerMatch.ExactMatch(generated, item.Target);
        return new ExampleResult
        {
            Task = task.Name, Shots = shots, Index = item.Index, Contexts = [context], Continuations = [task.ContinuationDelimiter + item.Target],
            Generated = generated, Target = item.Target, Correct = exact == 1,
            Metrics = new Dictionary<string, double> { ["exact_match"] = exact, ["f1"] = AnswerMatch.F1(generated, item.Target) },
        };
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

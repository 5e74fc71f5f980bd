namespace SharpGpt.Evaluation.Tasks;

/// <summary>Where few-shot demonstrations come from.</summary>
public enum DemonstrationSource
{
    /// <summary>The task's train split (a separate file).</summary>
    Train,
    /// <summary>The evaluated file itself, never the item being scored (LAMBADA and StoryCloze use dev; tasks with one split).</summary>
    SameFile,
}

/// <summary>
/// How a task turns items into prompts: the text between a context and its continuation (lm-eval's
/// target delimiter), between demonstrations, an optional unconditional context for ARC/OpenBookQA-style
/// normalisation, and how demonstrations and queries are rendered.
/// </summary>
public sealed record EvalTask
{
    public required string Name { get; init; }

    public required TaskKind Kind { get; init; }

    /// <summary>Appended to an item's context before the continuation delimiter (e.g. "\nAnswer:").</summary>
    public string QuerySuffix { get; init; } = "";

    /// <summary>Between the context and the continuation; lm-eval's target delimiter " ".</summary>
    public string ContinuationDelimiter { get; init; } = " ";

    /// <summary>Between demonstrations, and between the last demonstration and the query; lm-eval's "\n\n".</summary>
    public string ExampleDelimiter { get; init; } = "\n\n";

    /// <summary>P(choice | this) divides P(choice | context) for the unconditional normalisation (GPT-3 used "Answer:").</summary>
    public string? UnconditionalContext { get; init; }

    /// <summary>Generation stops at these.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = ["\n"];

    public int MaxGeneratedTokens { get; init; } = 32;

    public DemonstrationSource Demonstrations { get; init; } = DemonstrationSource.SameFile;

    /// <summary>GPT-3's fill-in-the-blank form for LAMBADA: "passage ____. ->" + " word".</summary>
    public bool FillInTheBlank { get; init; }

    /// <summary>The metric shown first for this task under each format.</summary>
    public string PrimaryMetric(EvalFormat format) => Kind switch
    {
        TaskKind.MultipleChoice when format == EvalFormat.Gpt3 => UnconditionalContext != null ? "acc_uncond" : "acc_per_token",
        TaskKind.MultipleChoice => "acc_norm",
        TaskKind.Generation => "exact_match",
        _ => "acc",
    };

    /// <summary>The query part the model is conditioned on (for one of the partial-scoring contexts when given).</summary>
    public string QueryText(EvalItem item, int option = -1)
    {
        if (FillInTheBlank)
        {
            return item.Context + " ____. ->";
        }
        string context = Kind == TaskKind.PartialScoring ? item.Choices[option < 0 ? item.Gold : option] : item.Context;
        return context + QuerySuffix;
    }

    /// <summary>The gold continuation of an item, delimiter included.</summary>
    public string AnswerText(EvalItem item) => Kind switch
    {
        TaskKind.MultipleChoice => ContinuationDelimiter + item.Choices[item.Gold],
        _ => ContinuationDelimiter + item.Target,
    };

    /// <summary>A solved item as a demonstration.</summary>
    public string DemonstrationText(EvalItem item) => QueryText(item) + AnswerText(item);
}

/// <summary>Prompt and metric conventions: the GPT-3 paper's or lm-evaluation-harness's.</summary>
public enum EvalFormat
{
    LmEval,
    Gpt3,
}

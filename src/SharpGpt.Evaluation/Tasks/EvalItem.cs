namespace SharpGpt.Evaluation.Tasks;

/// <summary>How an item is scored.</summary>
public enum TaskKind
{
    /// <summary>Query + choices + gold: pick the choice the model finds most likely.</summary>
    MultipleChoice,
    /// <summary>Several contexts, one continuation (WinoGrande's partial scoring): pick the context under which the continuation is most likely.</summary>
    PartialScoring,
    /// <summary>Context + continuation: accuracy of greedy prediction of the whole continuation, and perplexity (LAMBADA).</summary>
    LanguageModeling,
    /// <summary>Context + answer: greedy generation until a stop sequence, scored by exact match and F1.</summary>
    Generation,
}

/// <summary>
/// One evaluation item in a uniform shape. Multiple choice uses Context, Choices and Gold; partial scoring uses
/// Choices as the alternative contexts, Target as the shared continuation and Gold; language modelling and
/// generation use Context and Target.
/// </summary>
public sealed record EvalItem(int Index, string Context, IReadOnlyList<string> Choices, int Gold, string Target)
{
    public static EvalItem MultipleChoice(int index, string context, IReadOnlyList<string> choices, int gold) => new(index, context, choices, gold, "");

    public static EvalItem Partial(int index, IReadOnlyList<string> contexts, string continuation, int gold) => new(index, "", contexts, gold, continuation);

    public static EvalItem Completion(int index, string context, string target) => new(index, context, [], -1, target);
}

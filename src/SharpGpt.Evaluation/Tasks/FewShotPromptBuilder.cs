using SharpGpt.Tensors.Random;

namespace SharpGpt.Evaluation.Tasks;

/// <summary>
/// Draws K demonstrations for an item (GPT-3 §2.4): at random from the pool, seeded by (seed, item) so that a
/// run is reproducible and independent of order and batching, never the item itself when the pool is the
/// evaluated file, and joined by the task's example delimiter in front of the query.
/// </summary>
public static class FewShotPromptBuilder
{
    /// <summary>The pool indices of K demonstrations for <paramref name="item"/>.</summary>
    public static int[] Choose(LoadedTask task, EvalItem item, int shots, ulong seed)
    {
        if (shots <= 0)
        {
            return [];
        }
        var rng = new Rng(seed * 0x9E3779B97F4A7C15UL ^ (ulong)(item.Index + 1) * 0xBF58476D1CE4E5B9UL);
        int[] candidates = Enumerable.Range(0, task.DemonstrationPool.Count)
            .Where(i => !(task.PoolIsEvaluatedFile && task.DemonstrationPool[i].Index == item.Index))
            .ToArray();
        rng.Shuffle(candidates.AsSpan());
        return candidates[..Math.Min(shots, candidates.Length)];
    }

    /// <summary>Demonstrations (the first <paramref name="count"/> of <paramref name="chosen"/>) followed by the delimiter, ready for the query.</summary>
    public static string Prefix(LoadedTask task, int[] chosen, int count)
    {
        if (count == 0)
        {
            return "";
        }
        EvalTask t = task.Task;
        return string.Join(t.ExampleDelimiter, chosen.Take(count).Select(i => t.DemonstrationText(task.DemonstrationPool[i]))) + t.ExampleDelimiter;
    }
}

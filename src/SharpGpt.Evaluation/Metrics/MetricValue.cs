namespace SharpGpt.Evaluation.Metrics;

/// <summary>One aggregated metric: its value, standard error and the number of examples.</summary>
public sealed record MetricValue(string Name, double Value, double StandardError, int Count);

/// <summary>Aggregations, following lm-evaluation-harness.</summary>
public static class Aggregate
{
    /// <summary>Mean of per-example values with the standard error of the mean (sample std / √n).</summary>
    public static MetricValue Mean(string name, IReadOnlyList<double> values)
    {
        int n = values.Count;
        double mean = n == 0 ? double.NaN : values.Average();
        double variance = n < 2 ? 0 : values.Sum(v => (v - mean) * (v - mean)) / (n - 1);
        return new MetricValue(name, mean, Math.Sqrt(variance / Math.Max(1, n)), n);
    }

    /// <summary>exp(−mean log-likelihood), with the standard error by the delta method.</summary>
    public static MetricValue Perplexity(string name, IReadOnlyList<double> logLikelihoods)
    {
        MetricValue mean = Mean(name, logLikelihoods);
        double value = Math.Exp(-mean.Value);
        return new MetricValue(name, value, value * mean.StandardError, mean.Count);
    }
}

/// <summary>SQuAD-style answer normalisation, exact match and token F1.</summary>
public static class AnswerMatch
{
    private static readonly HashSet<string> Articles = ["a", "an", "the"];

    public static string Normalize(string text)
    {
        var kept = new System.Text.StringBuilder();
        foreach (char c in text.ToLowerInvariant())
        {
            if (!char.IsPunctuation(c))
            {
                kept.Append(c);
            }
        }
        return string.Join(' ', kept.ToString().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Where(w => !Articles.Contains(w)));
    }

    public static double ExactMatch(string prediction, string target) => Normalize(prediction) == Normalize(target) ? 1 : 0;

    public static double F1(string prediction, string target)
    {
        string[] p = Normalize(prediction).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string[] t = Normalize(target).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (p.Length == 0 || t.Length == 0)
        {
            return p.Length == t.Length ? 1 : 0;
        }
        var counts = t.GroupBy(w => w).ToDictionary(g => g.Key, g => g.Count());
        int common = 0;
        foreach (string w in p)
        {
            if (counts.TryGetValue(w, out int c) && c > 0)
            {
                counts[w] = c - 1;
                common++;
            }
        }
        if (common == 0)
        {
            return 0;
        }
        double precision = (double)common / p.Length, recall = (double)common / t.Length;
        return 2 * precision * recall / (precision + recall);
    }
}

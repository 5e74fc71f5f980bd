using System.Text.Json;
using System.Text.Json.Serialization;
using SharpGpt.Model.Checkpoints;

namespace SharpGpt.Evaluation;

/// <summary>The table printed at the end of a run and the JSON written with every example.</summary>
public static class EvalReport
{
    public static void PrintTable(TextWriter output, IReadOnlyList<TaskResult> results)
    {
        output.WriteLine($"{"task",-16} {"shots",5}  {"metric",-14} {"value",9} {"stderr",8} {"n",6}");
        output.WriteLine(new string('-', 64));
        foreach (TaskResult result in results)
        {
            foreach (var metric in result.Metrics.OrderBy(m => m.Name == result.PrimaryMetric ? 0 : 1).ThenBy(m => m.Name))
            {
                string mark = metric.Name == result.PrimaryMetric ? "*" : " ";
                string value = metric.Name == "perplexity" ? $"{metric.Value,9:F2}" : $"{metric.Value * 100,8:F1}%";
                string error = metric.Name == "perplexity" ? $"{metric.StandardError,8:F2}" : $"{metric.StandardError * 100,7:F1}%";
                output.WriteLine($"{result.Task,-16} {result.Shots,5} {mark}{metric.Name,-14} {value} {error} {metric.Count,6}");
            }
            if (result.ExamplesWithReducedShots > 0)
            {
                output.WriteLine($"  note: K was reduced to fit the context for {result.ExamplesWithReducedShots} examples (down to {result.MinimumShotsUsed}).");
            }
        }
        output.WriteLine("* primary metric for the chosen format; accuracies in %, perplexity per example's target.");
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static void WriteJson(string path, string model, EvalOptions options, IReadOnlyList<TaskResult> results)
    {
        var document = new
        {
            model,
            format = options.Format == Tasks.EvalFormat.Gpt3 ? "gpt3" : "lm-eval",
            seed = options.Seed,
            limit = options.Limit,
            created_utc = DateTime.UtcNow.ToString("O"),
            results = results.Select(r => new
            {
                task = r.Task,
                shots = r.Shots,
                primary_metric = r.PrimaryMetric,
                metrics = r.Metrics.ToDictionary(m => m.Name, m => new { value = m.Value, stderr = m.StandardError, n = m.Count }),
                examples_with_reduced_shots = r.ExamplesWithReducedShots,
                seconds = r.Seconds,
                examples = r.Examples,
            }),
        };
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(document, Json));
    }
}

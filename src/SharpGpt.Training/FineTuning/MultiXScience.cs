using System.Text;
using System.Text.Json;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints;
using SharpGpt.Model.Tokenization;

namespace SharpGpt.Training.FineTuning;

/// <summary>
/// Turns Multi-XScience records (the CiteBench JSON: an array of {"input": ["&lt;abs&gt; paper abstract",
/// "cited abstract [0]", …], "target": "related-work paragraph citing [0], [1] …"}) into OpenAI-style
/// {"prompt","completion"} fine-tuning records. The abstracts rarely fit a small context (≈1,300 tokens on
/// average), so the prompt is budgeted in tokens: the paper's own abstract gets up to half of the budget, the
/// cited abstracts share the rest equally, and each piece is cut at a token boundary with "…". The structure
/// (every [i] label) always survives, because the completion refers to the labels.
/// </summary>
public static class MultiXScience
{
    /// <summary>Text between the prompt and the completion; the model learns to write after it.</summary>
    public const string CompletionCue = "\n\nRelated work:";

    /// <summary>One converted record and how much of its abstracts had to be cut.</summary>
    public sealed record Conversion(string Prompt, string Completion, int PromptTokens, int CompletionTokens, bool Truncated);

    /// <summary>Reads a CiteBench-format JSON file, naming the file and record on any malformed entry.</summary>
    public static IReadOnlyList<(string Abstract, string[] Cited, string Target)> Read(string path)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new SharpGptException($"{path}: expected a JSON array of {{\"input\", \"target\"}} records.");
        }
        var records = new List<(string, string[], string)>();
        int index = 0;
        foreach (JsonElement record in document.RootElement.EnumerateArray())
        {
            if (record.ValueKind != JsonValueKind.Object
                || !record.TryGetProperty("input", out JsonElement input) || input.ValueKind != JsonValueKind.Array || input.GetArrayLength() == 0
                || !record.TryGetProperty("target", out JsonElement target) || target.ValueKind != JsonValueKind.String)
            {
                throw new SharpGptException($"{path}: record {index} needs a non-empty \"input\" array of strings and a \"target\" string.");
            }
            string[] texts = input.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
                ? e.GetString()!
                : throw new SharpGptException($"{path}: record {index} has a non-string entry in \"input\".")).ToArray();
            string paper = texts[0].StartsWith("<abs>", StringComparison.Ordinal) ? texts[0]["<abs>".Length..] : texts[0];
            records.Add((paper.Trim(), texts[1..].Select(t => t.Trim()).ToArray(), target.GetString()!.Trim()));
            index++;
        }
        return records;
    }

    /// <summary>
    /// Builds the prompt and completion of one record so that prompt + completion + &lt;|endoftext|&gt; fit in
    /// <paramref name="context"/> tokens (the completion is never cut here; fine-tuning trims over-long ones).
    /// </summary>
    public static Conversion Convert(Gpt2Tokenizer tokenizer, string paperAbstract, IReadOnlyList<string> cited, string target, int context)
    {
        string completion = " " + target;
        int completionTokens = tokenizer.Encode(completion).Length;
        string header = "Write the related-work paragraph of a paper, citing the works listed as [0], [1], ….\n\nAbstract: ";
        string citedHeader = "\n\nCited works:";
        var labels = cited.Select((_, i) => $"\n[{i}] ").ToArray();
        int fixedTokens = tokenizer.Encode(header + citedHeader + string.Concat(labels) + CompletionCue).Length;
        // At least a quarter of the context stays for abstracts even when the completion is long.
        // Two tokens per piece are kept back for the " …" of a cut or "(no abstract)".
        int budget = Math.Max(context - completionTokens - 1, context / 4) - fixedTokens - 2 * (cited.Count + 1);
        int[] paperIds = tokenizer.Encode(paperAbstract);
        int[][] citedIds = cited.Select(tokenizer.Encode).ToArray();
        int total = paperIds.Length + citedIds.Sum(ids => ids.Length);
        bool truncated = total > budget;
        int paperBudget = paperIds.Length, citedBudget = int.MaxValue;
        if (truncated)
        {
            int available = Math.Max(budget, 0);
            paperBudget = Math.Min(paperIds.Length, cited.Count == 0 ? available : available / 2);
            citedBudget = cited.Count == 0 ? 0 : (available - paperBudget) / cited.Count;
            // Short cited abstracts leave their unused share to the others.
            int spare = citedIds.Sum(ids => Math.Max(0, citedBudget - ids.Length));
            int cut = citedIds.Count(ids => ids.Length > citedBudget);
            if (cut > 0)
            {
                citedBudget += spare / cut;
            }
        }
        var prompt = new StringBuilder(header);
        prompt.Append(Cut(tokenizer, paperIds, paperBudget));
        prompt.Append(citedHeader);
        for (int i = 0; i < cited.Count; i++)
        {
            prompt.Append(labels[i]);
            prompt.Append(citedIds[i].Length == 0 ? "(no abstract)" : Cut(tokenizer, citedIds[i], citedBudget));
        }
        prompt.Append(CompletionCue);
        string text = prompt.ToString();
        return new Conversion(text, completion, tokenizer.Encode(text).Length, completionTokens, truncated);
    }

    /// <summary>Converts a whole file into JSONL; returns the conversions in order.</summary>
    public static IReadOnlyList<Conversion> ConvertFile(Gpt2Tokenizer tokenizer, string input, string output, int context)
    {
        var conversions = Read(input).Select(r => Convert(tokenizer, r.Abstract, r.Cited, r.Target, context)).ToList();
        AtomicFile.WriteAllText(output, string.Concat(conversions.Select(c =>
            JsonSerializer.Serialize(new { prompt = c.Prompt, completion = c.Completion }, Readable) + "\n")));
        return conversions;
    }

    /// <summary>Keeps quotes and non-ASCII letters readable in the JSONL (it is still valid JSON).</summary>
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Cut(Gpt2Tokenizer tokenizer, int[] ids, int budget) =>
        ids.Length <= budget ? tokenizer.Decode(ids) : tokenizer.Decode(ids.AsSpan(0, Math.Max(budget - 1, 0))).TrimEnd() + " …";
}

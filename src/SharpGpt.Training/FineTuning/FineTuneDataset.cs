using System.Text.Json;
using SharpGpt.Model;
using SharpGpt.Model.Tokenization;
using SharpGpt.Tensors.Random;

namespace SharpGpt.Training.FineTuning;

/// <summary>
/// Reads fine-tuning JSONL: {"prompt": …, "completion": …} records (OpenAI's legacy fine-tuning format) or
/// {"text": …} records. Prompt and completion are tokenized separately, as they are at inference time. An
/// example longer than the context loses tokens from the start of its prompt (and, only if needed, the end
/// of its completion); such cuts are counted and reported.
/// </summary>
public static class FineTuneDataset
{
    public sealed record LoadResult(IReadOnlyList<FineTuneExample> Examples, int Truncated, int CompletionOnly, int PlainText);

    public static LoadResult Load(string path, Gpt2Tokenizer tokenizer, int maxLength)
    {
        if (!File.Exists(path))
        {
            throw new SharpGptException($"Fine-tuning data '{path}' does not exist.");
        }
        var examples = new List<FineTuneExample>();
        int truncated = 0, completionOnly = 0, plain = 0;
        long line = 0;
        foreach (string raw in File.ReadLines(path))
        {
            line++;
            if (raw.Trim().Length == 0)
            {
                continue;
            }
            string where = $"{path}:{line}";
            JsonElement root;
            try
            {
                using JsonDocument document = JsonDocument.Parse(raw);
                root = document.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw new SharpGptException($"{where}: invalid JSON ({ex.Message}).", ex);
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SharpGptException($"{where}: expected a JSON object.");
            }
            int[] prompt, completion;
            if (root.TryGetProperty("prompt", out _) || root.TryGetProperty("completion", out _))
            {
                prompt = tokenizer.Encode(String(root, "prompt", where));
                completion = tokenizer.Encode(String(root, "completion", where));
                completionOnly++;
            }
            else if (root.TryGetProperty("text", out _))
            {
                prompt = [];
                completion = tokenizer.Encode(String(root, "text", where));
                plain++;
            }
            else
            {
                throw new SharpGptException($"{where}: needs \"prompt\" and \"completion\", or \"text\".");
            }
            int[] ids = [.. prompt, .. completion, tokenizer.EndOfTextId];
            int promptLength = prompt.Length;
            if (ids.Length > maxLength + 1)
            {
                truncated++;
                int excess = ids.Length - (maxLength + 1);
                int fromPrompt = Math.Min(excess, Math.Max(0, promptLength - 1));
                ids = ids[fromPrompt..];
                promptLength -= fromPrompt;
                if (ids.Length > maxLength + 1)
                {
                    ids = [.. ids[..maxLength], tokenizer.EndOfTextId];
                }
            }
            if (ids.Length < 2)
            {
                throw new SharpGptException($"{where}: the example is empty.");
            }
            examples.Add(new FineTuneExample(ids, promptLength, where));
        }
        if (examples.Count == 0)
        {
            throw new SharpGptException($"{path}: no examples.");
        }
        return new LoadResult(examples, truncated, completionOnly, plain);
    }

    /// <summary>Seeded split into train and validation (at least one validation example when asked and possible).</summary>
    public static (List<FineTuneExample> Train, List<FineTuneExample> Validation) Split(IReadOnlyList<FineTuneExample> examples, double validationFraction, ulong seed)
    {
        FineTuneExample[] shuffled = [.. examples];
        new Rng(seed).Shuffle(shuffled.AsSpan());
        int validation = (int)Math.Round(examples.Count * validationFraction);
        if (validationFraction > 0 && validation == 0 && examples.Count >= 2)
        {
            validation = 1;
        }
        return ([.. shuffled[validation..]], [.. shuffled[..validation]]);
    }

    private static string String(JsonElement root, string name, string where)
    {
        if (!root.TryGetProperty(name, out JsonElement value))
        {
            throw new SharpGptException($"{where}: missing the \"{name}\" field.");
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            throw new SharpGptException($"{where}: \"{name}\" must be a string.");
        }
        return value.GetString()!;
    }
}

using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using SharpGpt.Model.Checkpoints;

namespace SharpGpt.Model.Tokenization;

/// <summary>
/// The GPT-2/GPT-3 byte-level BPE (50257 tokens, &lt;|endoftext|&gt; = 50256), encoding through
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> with GPT-2's pre-tokenizer regex.
/// Decoding maps ids back to bytes exactly, so any valid Unicode text round-trips losslessly, and a
/// stream of tokens can be turned into text without splitting a multi-byte character.
/// Loads vocab.json + merges.txt (Hugging Face), encoder.json + vocab.bpe (OpenAI) or tokenizer.json.
/// </summary>
public sealed class Gpt2Tokenizer
{
    public const string EndOfText = "<|endoftext|>";

    /// <summary>GPT-2's pre-tokenization pattern (OpenAI encoder.py).</summary>
    private static readonly Regex Gpt2Pattern = new(
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        RegexOptions.Compiled | RegexOptions.CultureInvariant);

    private static readonly Lazy<Gpt2Tokenizer> LazyDefault = new(LoadDefault);

    private readonly BpeTokenizer _bpe;
    private readonly byte[][] _tokenBytes;
    private readonly IReadOnlyDictionary<string, int> _vocabulary;
    private readonly IReadOnlyList<string> _merges;
    private readonly IReadOnlyDictionary<string, int> _specialTokens;

    private Gpt2Tokenizer(IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<string> merges, string source)
    {
        if (!vocabulary.TryGetValue(EndOfText, out int endOfText))
        {
            throw new CheckpointException($"{source}: the vocabulary has no {EndOfText} token, so it is not a GPT-2 vocabulary.");
        }
        _vocabulary = vocabulary;
        _merges = merges;
        _specialTokens = new Dictionary<string, int> { [EndOfText] = endOfText };
        EndOfTextId = endOfText;
        VocabSize = vocabulary.Values.Max() + 1;
        _tokenBytes = new byte[VocabSize][];
        foreach ((string token, int id) in vocabulary)
        {
            if (id < 0)
            {
                throw new CheckpointException($"{source}: token '{token}' has a negative id.");
            }
            _tokenBytes[id] = token == EndOfText ? Encoding.UTF8.GetBytes(token) : ToBytes(token, source);
        }
        for (int id = 0; id < VocabSize; id++)
        {
            _tokenBytes[id] ??= [];
        }
        _bpe = BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(Gpt2Pattern, _specialTokens),
            SpecialTokens = _specialTokens,
        });
        Source = source;
    }

    /// <summary>The GPT-2 tokenizer shipped inside SharpGPT.</summary>
    public static Gpt2Tokenizer Default => LazyDefault.Value;

    /// <summary>Where the vocabulary came from.</summary>
    public string Source { get; }

    public int VocabSize { get; }

    public int EndOfTextId { get; }

    /// <summary>Encodes text; the literal text &lt;|endoftext|&gt; becomes the special token, as in Hugging Face.</summary>
    public int[] Encode(string text) => [.. _bpe.EncodeToIds(text)];

    /// <summary>The exact bytes of a token.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) =>
        (uint)id < (uint)_tokenBytes.Length ? _tokenBytes[id] : throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is outside the vocabulary of {VocabSize}.");

    /// <summary>One token as text (a partial UTF-8 character shows as U+FFFD, as in OpenAI's API).</summary>
    public string TokenText(int id) => Encoding.UTF8.GetString(TokenBytes(id));

    /// <summary>Decodes ids to text; invalid UTF-8 (only possible from a cut sequence) becomes U+FFFD.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            bytes.AddRange(TokenBytes(id));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Loads the tokenizer files of a model folder, if it has any.</summary>
    public static Gpt2Tokenizer? TryFromDirectory(string directory)
    {
        string vocab = Path.Combine(directory, "vocab.json"), merges = Path.Combine(directory, "merges.txt");
        string encoder = Path.Combine(directory, "encoder.json"), bpe = Path.Combine(directory, "vocab.bpe");
        string tokenizerJson = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(vocab) && File.Exists(merges))
        {
            return FromVocabAndMerges(vocab, merges);
        }
        if (File.Exists(encoder) && File.Exists(bpe))
        {
            return FromVocabAndMerges(encoder, bpe);
        }
        if (File.Exists(tokenizerJson))
        {
            return FromTokenizerJson(tokenizerJson);
        }
        return null;
    }

    public static Gpt2Tokenizer FromDirectory(string directory) =>
        TryFromDirectory(directory)
        ?? throw new CheckpointException($"{directory}: no tokenizer files (vocab.json + merges.txt, encoder.json + vocab.bpe, or tokenizer.json).");

    /// <summary>vocab.json/encoder.json (token → id) and merges.txt/vocab.bpe (one "a b" merge per line).</summary>
    public static Gpt2Tokenizer FromVocabAndMerges(string vocabPath, string mergesPath)
    {
        using Stream vocab = File.OpenRead(vocabPath);
        return Create(ReadVocabulary(vocab, vocabPath), ReadMerges(File.ReadAllLines(mergesPath)), vocabPath);
    }

    /// <summary>A Hugging Face tokenizer.json with a BPE model.</summary>
    public static Gpt2Tokenizer FromTokenizerJson(string path)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement model = document.RootElement.GetProperty("model");
            if (model.TryGetProperty("type", out JsonElement type) && type.GetString() != "BPE")
            {
                throw new CheckpointException($"{path}: tokenizer model type '{type.GetString()}' is not BPE.");
            }
            var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
            {
                vocabulary[entry.Name] = entry.Value.GetInt32();
            }
            if (document.RootElement.TryGetProperty("added_tokens", out JsonElement added))
            {
                foreach (JsonElement token in added.EnumerateArray())
                {
                    vocabulary[token.GetProperty("content").GetString()!] = token.GetProperty("id").GetInt32();
                }
            }
            var merges = new List<string>();
            foreach (JsonElement merge in model.GetProperty("merges").EnumerateArray())
            {
                merges.Add(merge.ValueKind == JsonValueKind.Array
                    ? $"{merge[0].GetString()} {merge[1].GetString()}"
                    : merge.GetString()!);
            }
            return Create(vocabulary, merges, path);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointException($"{path}: not a BPE tokenizer.json ({ex.Message}).", ex);
        }
    }

    private static Gpt2Tokenizer Create(IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<string> merges, string source)
    {
        try
        {
            return new Gpt2Tokenizer(vocabulary, merges, source);
        }
        catch (Exception ex) when (ex is not SharpGptException)
        {
            throw new CheckpointException($"{source}: cannot build the tokenizer ({ex.Message}).", ex);
        }
    }

    private static Dictionary<string, int> ReadVocabulary(Stream stream, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, int>>(stream)
                ?? throw new CheckpointException($"{source}: the vocabulary is empty.");
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"{source}: not a token → id JSON object ({ex.Message}).", ex);
        }
    }

    private static List<string> ReadMerges(IEnumerable<string> lines) =>
        [.. lines.Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal))];

    private static byte[] ToBytes(string token, string source)
    {
        byte[] bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!ByteLevelAlphabet.TryToByte(token[i], out bytes[i]))
            {
                throw new CheckpointException($"{source}: token '{token}' is not in GPT-2's byte-level alphabet.");
            }
        }
        return bytes;
    }

    /// <summary>Writes vocab.json, merges.txt and tokenizer_config.json (what AutoTokenizer needs for GPT-2).</summary>
    public void Save(string directory, int modelMaxLength)
    {
        Directory.CreateDirectory(directory);
        var ordered = _vocabulary.OrderBy(p => p.Value).ToDictionary(p => p.Key, p => p.Value);
        AtomicFile.WriteAllText(Path.Combine(directory, "vocab.json"), JsonSerializer.Serialize(ordered));
        AtomicFile.WriteAllText(Path.Combine(directory, "merges.txt"), "#version: 0.2\n" + string.Join("\n", _merges) + "\n");
        var config = new Dictionary<string, object>
        {
            ["tokenizer_class"] = "GPT2Tokenizer",
            ["model_max_length"] = modelMaxLength,
            ["bos_token"] = EndOfText,
            ["eos_token"] = EndOfText,
            ["unk_token"] = EndOfText,
            ["add_prefix_space"] = false,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static Gpt2Tokenizer LoadDefault()
    {
        var assembly = typeof(Gpt2Tokenizer).Assembly;
        using Stream vocab = assembly.GetManifestResourceStream("SharpGpt.Tokenizer.vocab.json")
            ?? throw new InvalidOperationException("The built-in GPT-2 vocabulary resource is missing.");
        using Stream mergesStream = assembly.GetManifestResourceStream("SharpGpt.Tokenizer.merges.txt")
            ?? throw new InvalidOperationException("The built-in GPT-2 merges resource is missing.");
        using StreamReader reader = new(mergesStream);
        var lines = reader.ReadToEnd().Split('\n');
        return Create(ReadVocabulary(vocab, "built-in vocab.json"), ReadMerges(lines), "built-in GPT-2 tokenizer");
    }
}

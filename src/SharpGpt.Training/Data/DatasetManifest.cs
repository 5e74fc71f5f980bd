using System.Text.Json;
using System.Text.Json.Serialization;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints;

namespace SharpGpt.Training.Data;

/// <summary>A shard file of a split, with its token count and checksum.</summary>
public sealed record ShardInfo(string File, long Tokens, string Sha256);

/// <summary>A split (train or validation): its shards in order.</summary>
public sealed record SplitInfo(IReadOnlyList<ShardInfo> Shards)
{
    public long Tokens => Shards.Sum(s => s.Tokens);
}

/// <summary>One input file and what it contributed.</summary>
public sealed record SourceInfo(string Path, long Documents, long Tokens, long Bytes);

/// <summary>manifest.json of a prepared dataset: what was tokenized, how, and where the shards are.</summary>
public sealed record DatasetManifest
{
    public const string FileName = "manifest.json";
    public const string CurrentFormat = "sharpgpt-tokens/1";

    public string Format { get; init; } = CurrentFormat;
    public string Tokenizer { get; init; } = "gpt2";
    public int VocabSize { get; init; }
    public int EndOfTextId { get; init; }
    public int BytesPerToken { get; init; }
    public double ValidationFraction { get; init; }
    public int ValidationBlockTokens { get; init; }
    public ulong Seed { get; init; }
    public string CreatedUtc { get; init; } = "";
    public required SplitInfo Train { get; init; }
    public required SplitInfo Validation { get; init; }
    public IReadOnlyList<SourceInfo> Sources { get; init; } = [];

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public void Save(string directory) => AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Options));

    public static DatasetManifest Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new SharpGptException($"{directory}: no {FileName}; prepare the data with 'sharpgpt prepare' first.");
        }
        try
        {
            DatasetManifest manifest = JsonSerializer.Deserialize<DatasetManifest>(File.ReadAllText(path), Options)
                ?? throw new SharpGptException($"{path}: empty manifest.");
            if (manifest.Format != CurrentFormat)
            {
                throw new SharpGptException($"{path}: format '{manifest.Format}' is not {CurrentFormat}.");
            }
            return manifest;
        }
        catch (JsonException ex)
        {
            throw new SharpGptException($"{path}: invalid manifest ({ex.Message}).", ex);
        }
    }
}

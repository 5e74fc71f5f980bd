using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints;

namespace SharpGpt.Training.Checkpoints;

/// <summary>
/// Everything besides the big buffers that a run needs to continue exactly: the step, the data position,
/// the model config, the run's settings and the validation record. Saved as state.json.
/// </summary>
public sealed record TrainingState
{
    public const string FileName = "state.json";
    public const string CurrentFormat = "sharpgpt-train-state/1";

    public string Format { get; init; } = CurrentFormat;
    public int Step { get; init; }
    public long TokensSeen { get; init; }
    public double ElapsedSeconds { get; init; }
    public required JsonNode Data { get; init; }
    public required JsonNode Config { get; init; }
    public required JsonNode Options { get; init; }
    public double BestValidationLoss { get; init; } = double.PositiveInfinity;
    public int BestStep { get; init; } = -1;
    public int OptimizerSteps { get; init; }
    public double LastLoss { get; init; } = double.NaN;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    public GptConfig ModelConfig => ConfigJson.Deserialize(Config.ToJsonString(), FileName);

    public static JsonNode ToNode<T>(T value) => JsonSerializer.SerializeToNode(value, Json)!;

    public static T FromNode<T>(JsonNode node) => node.Deserialize<T>(Json)!;

    public static JsonNode ConfigNode(GptConfig config) => JsonNode.Parse(ConfigJson.Serialize(config))!;

    public void Save(string directory) => AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json));

    public static TrainingState Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new SharpGptException($"{directory}: not a training checkpoint (no {FileName}).");
        }
        try
        {
            TrainingState state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), Json)
                ?? throw new SharpGptException($"{path}: empty.");
            if (state.Format != CurrentFormat)
            {
                throw new SharpGptException($"{path}: format '{state.Format}' is not {CurrentFormat}.");
            }
            return state;
        }
        catch (JsonException ex)
        {
            throw new SharpGptException($"{path}: invalid training state ({ex.Message}).", ex);
        }
    }
}

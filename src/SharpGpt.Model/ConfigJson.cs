using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpGpt.Model;

/// <summary>SharpGPT's own JSON form of <see cref="GptConfig"/> (presets and --config files).</summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static string Serialize(GptConfig config) => JsonSerializer.Serialize(config, Options);

    /// <summary>Parses and validates a config; <paramref name="source"/> names the file in errors.</summary>
    public static GptConfig Deserialize(string json, string source)
    {
        try
        {
            GptConfig? config = JsonSerializer.Deserialize<GptConfig>(json, Options);
            if (config == null)
            {
                throw new SharpGptException($"{source}: the config is empty.");
            }
            return config.Validate();
        }
        catch (JsonException ex)
        {
            throw new SharpGptException($"{source}: not a valid SharpGPT config: {ex.Message}", ex);
        }
    }

    public static GptConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new SharpGptException($"Config file '{path}' does not exist.");
        }
        return Deserialize(File.ReadAllText(path), path);
    }
}

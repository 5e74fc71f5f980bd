using System.Reflection;

namespace SharpGpt.Model;

/// <summary>
/// Named architectures, defined as data in Presets/*.json (embedded in the assembly):
/// GPT-2 (124M–1.5B), GPT-Neo (125M–2.7B) and the eight GPT-3 sizes of Brown et al. 2020, Table 2.1.
/// </summary>
public static class GptPresets
{
    private const string ResourcePrefix = "SharpGpt.Presets.";

    private static readonly Lazy<IReadOnlyDictionary<string, GptConfig>> All = new(LoadAll);

    /// <summary>Preset names in a stable order.</summary>
    public static IReadOnlyList<string> Names => [.. All.Value.Keys.Order(StringComparer.Ordinal)];

    public static bool TryGet(string name, out GptConfig config) =>
        All.Value.TryGetValue(name.Trim().ToLowerInvariant(), out config!);

    public static GptConfig Get(string name) =>
        TryGet(name, out GptConfig config)
            ? config
            : throw new SharpGptException($"Unknown preset '{name}'. Known presets: {string.Join(", ", Names)}.");

    private static IReadOnlyDictionary<string, GptConfig> LoadAll()
    {
        Assembly assembly = typeof(GptPresets).Assembly;
        var presets = new Dictionary<string, GptConfig>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using StreamReader reader = new(stream);
            GptConfig config = ConfigJson.Deserialize(reader.ReadToEnd(), resource);
            presets[config.Name] = config;
        }
        return presets;
    }
}

using System.CommandLine;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt info`: architecture and parameter count of a preset, config or model folder, without allocating weights.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter output)
    {
        var preset = new Option<string?>("--preset", "-p") { Description = $"Preset name ({string.Join(", ", GptPresets.Names)})" };
        var config = new Option<string?>("--config") { Description = "SharpGPT config JSON file" };
        var model = new Option<string?>("--model", "-m") { Description = "Model folder (reads config.json only)" };
        var list = new Option<bool>("--list") { Description = "List the presets with their sizes" };
        var command = new Command("info", "Print a model's architecture and parameter count (no weights are allocated).") { preset, config, model, list };
        command.SetAction(parse =>
        {
            if (parse.GetValue(list))
            {
                foreach (string name in GptPresets.Names)
                {
                    GptConfig c = GptPresets.Get(name);
                    output.WriteLine($"{name,-14} {FormatCount(ParameterLayout.CountParameters(c)),8}  {c.Description}");
                }
                return 0;
            }
            int given = (parse.GetValue(preset) != null ? 1 : 0) + (parse.GetValue(config) != null ? 1 : 0) + (parse.GetValue(model) != null ? 1 : 0);
            if (given != 1)
            {
                throw new ArgumentException("give exactly one of --preset, --config or --model (or --list).");
            }
            GptConfig resolved = parse.GetValue(preset) is string p ? GptPresets.Get(p)
                : parse.GetValue(config) is string f ? ConfigJson.Load(f)
                : HfConfig.Read(Path.Combine(parse.GetValue(model)!, HfModelLoader.ConfigFile));
            Print(output, resolved);
            return 0;
        });
        return command;
    }

    public static void Print(TextWriter output, GptConfig config)
    {
        var layout = new ParameterLayout(config);
        long parameters = layout.ParameterCount;
        string attention = config.HasLocalLayers
            ? $"{string.Join("/", config.AttentionLayers.Take(Math.Min(4, config.LayerCount)).Select(k => k == AttentionKind.Local ? "local" : "global"))}… (local window {config.WindowSize})"
            : "dense (global) in every layer";
        output.WriteLine($"name              {config.Name}");
        if (config.Description.Length > 0)
        {
            output.WriteLine($"description       {config.Description}");
        }
        output.WriteLine($"family            {config.Family} ({(config.ScaleAttention ? "scores scaled by 1/sqrt(d_head)" : "unscaled scores")}, {(config.QkvBias ? "q/k/v bias" : "no q/k/v bias")})");
        output.WriteLine($"layers            {config.LayerCount}");
        output.WriteLine($"d_model           {config.EmbeddingSize}");
        output.WriteLine($"heads             {config.HeadCount} x d_head {config.HeadDim}");
        output.WriteLine($"d_ff              {config.FeedForwardSize}");
        output.WriteLine($"context           {config.ContextLength}");
        output.WriteLine($"vocabulary        {config.VocabSize}");
        output.WriteLine($"attention         {attention}");
        output.WriteLine($"parameters        {parameters:N0} ({FormatCount(parameters)})");
        output.WriteLine($"weights (fp32)    {FormatBytes(parameters * 4)}");
        output.WriteLine($"training state    {FormatBytes(parameters * 16)} (fp32 weights, gradients, Adam m and v; activations extra)");
        output.WriteLine($"FLOPs per token   {FormatCount(6 * parameters)} training, {FormatCount(2 * parameters)} inference (6N and 2N)");
    }

    public static string FormatCount(double n) => n switch
    {
        >= 1e12 => $"{n / 1e12:F2}T",
        >= 1e9 => $"{n / 1e9:F2}B",
        >= 1e6 => $"{n / 1e6:F1}M",
        >= 1e3 => $"{n / 1e3:F1}K",
        _ => $"{n:F0}",
    };

    public static string FormatBytes(double bytes) => bytes switch
    {
        >= 1L << 40 => $"{bytes / (1L << 40):F2} TiB",
        >= 1L << 30 => $"{bytes / (1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (1L << 20):F1} MiB",
        _ => $"{bytes / 1024:F1} KiB",
    };
}

using System.CommandLine;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Tokenization;
using SharpGpt.Tensors.Random;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt init`: a randomly initialised model folder of any preset (for benchmarks and tests).</summary>
internal static class InitCommand
{
    public static Command Create(TextWriter output)
    {
        var preset = new Option<string?>("--preset", "-p") { Description = "Architecture preset" };
        var config = new Option<string?>("--config") { Description = "SharpGPT config JSON (instead of --preset)" };
        var outDir = new Option<string>("--out", "-o") { Description = "Output model folder", Required = true };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1 };
        var command = new Command("init", "Write a model with GPT-2 initialisation (random weights) in the Hugging Face layout.") { preset, config, outDir, seed };
        command.SetAction(parse =>
        {
            if ((parse.GetValue(preset) == null) == (parse.GetValue(config) == null))
            {
                throw new ArgumentException("give exactly one of --preset or --config.");
            }
            GptConfig c = parse.GetValue(preset) is string p ? GptPresets.Get(p) : ConfigJson.Load(parse.GetValue(config)!);
            using var model = new GptModel(c);
            model.InitializeGpt2(new Rng(parse.GetValue(seed)));
            HfModelSaver.Save(model, parse.GetValue(outDir)!, Gpt2Tokenizer.Default);
            output.WriteLine($"wrote a random {c.Name} ({model.Layout.ParameterCount:N0} parameters) to {parse.GetValue(outDir)}");
            return 0;
        });
        return command;
    }
}

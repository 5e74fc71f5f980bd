using System.CommandLine;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Tokenization;
using SharpGpt.Training;
using SharpGpt.Training.Checkpoints;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt export`: turn a training checkpoint into a Hugging Face model folder.</summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter output)
    {
        var checkpoint = new Option<string>("--checkpoint", "-c") { Description = "A checkpoint folder (…/checkpoints/step-NNNNNNN) or a run's output folder (uses its latest)", Required = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output model folder", Required = true };
        var best = new Option<bool>("--best") { Description = "With a run folder: export the best checkpoint instead of the latest" };
        var dtype = new Option<string>("--dtype") { Description = "f32, f16 or bf16", DefaultValueFactory = _ => "f32" };
        var command = new Command("export", "Export a training checkpoint in the Hugging Face layout (config.json, model.safetensors, tokenizer).")
        {
            checkpoint, outDir, best, dtype,
        };
        command.SetAction(parse =>
        {
            string path = ResolveCheckpoint(parse.GetValue(checkpoint)!, parse.GetValue(best));
            TrainingState state = TrainingState.Load(path);
            using var model = new GptModel(state.ModelConfig);
            Trainer.LoadWeights(path, model);
            HfModelSaver.Save(model, parse.GetValue(outDir)!, Gpt2Tokenizer.Default, ParseDType(parse.GetValue(dtype)!));
            output.WriteLine($"exported step {state.Step} of {path} to {parse.GetValue(outDir)}");
            return 0;
        });
        return command;
    }

    public static string ResolveCheckpoint(string path, bool best)
    {
        if (File.Exists(Path.Combine(path, TrainingState.FileName)))
        {
            return path;
        }
        var directory = new CheckpointDirectory(Directory.Exists(Path.Combine(path, "checkpoints")) ? Path.Combine(path, "checkpoints") : path);
        return (best ? directory.Best : directory.Latest) ?? throw new SharpGptException($"{path}: no {(best ? "best" : "latest")} checkpoint found.");
    }

    public static SafetensorsDType ParseDType(string text) => text.ToLowerInvariant() switch
    {
        "f32" or "fp32" or "float32" => SafetensorsDType.F32,
        "f16" or "fp16" or "float16" => SafetensorsDType.F16,
        "bf16" or "bfloat16" => SafetensorsDType.BF16,
        _ => throw new ArgumentException($"unknown dtype '{text}' (use f32, f16 or bf16)."),
    };
}

using System.CommandLine;
using System.Diagnostics;
using SharpGpt.Inference;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Checkpoints.Quantized;
using SharpGpt.Tensors.Kernels.Quantized;

namespace SharpGpt.Cli.Commands;

/// <summary>
/// `sharpgpt quantize`: write a model folder whose matrices are stored quantized, so generate / serve / eval load it
/// without reading the fp32 weights or quantizing them again (the same bits as `--quantize` at load time).
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model("Model folder to quantize (Hugging Face layout); default: the built-in model");
        var to = new Option<string>("--to") { Description = "int8 (per-group symmetric 8-bit), q4 (4-bit) or bf16 (bfloat16, no scales)", Required = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output model folder (must differ from the input)", Required = true };
        var command = new Command("quantize", "Store a model's matrices quantized (int8 or q4 in groups of 32, or bf16) in a new folder that SharpGPT loads directly.")
        {
            model, to, outDir,
        };
        command.SetAction(parse =>
        {
            QuantizationKind kind = LanguageModel.ParseQuantization(parse.GetValue(to))
                ?? throw new ArgumentException("--to must be int8, q4 or bf16.");
            string target = Path.GetFullPath(parse.GetValue(outDir)!);
            var clock = Stopwatch.StartNew();
            using LanguageModel language = LanguageModel.LoadOrDefault(parse.GetValue(model));
            if (string.Equals(Path.TrimEndingDirectorySeparator(target), Path.TrimEndingDirectorySeparator(language.Source), StringComparison.Ordinal))
            {
                throw new ArgumentException($"--out {target} is the input folder; quantizing in place would replace the fp32 weights.");
            }
            if (language.Model.FloatMatricesReleased)
            {
                throw new SharpGptException($"{language.Source} is quantized already; quantize the fp32 model instead.");
            }
            language.Model.Quantize(kind, keepFloatWeights: false);
            HfModelSaver.SaveQuantized(language.Model, target, language.Tokenizer);
            long bytes = new FileInfo(Path.Combine(target, HfModelLoader.WeightsFile)).Length;
            long floatBytes = language.Model.Layout.TotalFloats * sizeof(float);
            output.WriteLine($"quantized {language.Source} to {QuantizedCheckpoint.KindName(kind)} in {clock.Elapsed.TotalSeconds:F1} s → {target} " +
                $"({bytes / 1e6:F1} MB of weights; fp32 {floatBytes / 1e6:F1} MB; matrices {language.Model.Quantized!.ByteLength / 1e6:F1} MB)");
            return 0;
        });
        return command;
    }
}

using System.CommandLine;
using SharpGpt.Inference;
using SharpGpt.Model.Checkpoints.HuggingFace;

namespace SharpGpt.Cli.Commands;

/// <summary>`sharpgpt merge-adapter`: bake a LoRA adapter into its base model's weights and save the result.</summary>
internal static class MergeAdapterCommand
{
    public static Command Create(TextWriter output)
    {
        var model = CommonOptions.Model("Base model (default: the one recorded in the adapter)");
        var adapter = new Option<string>("--adapter", "-a") { Description = "Adapter folder from 'sharpgpt finetune --lora'", Required = true };
        var outDir = new Option<string>("--out", "-o") { Description = "Output model folder", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "f32, f16 or bf16", DefaultValueFactory = _ => "f32" };
        var command = new Command("merge-adapter", "Merge a LoRA adapter into its base model (W += alpha/r · B·A) and save a Hugging Face folder.")
        {
            model, adapter, outDir, dtype,
        };
        command.SetAction(parse =>
        {
            string adapterPath = parse.GetValue(adapter)!;
            using LanguageModel merged = LanguageModel.LoadOrDefault(parse.GetValue(model) ?? adapterPath, adapterPath);
            HfModelSaver.Save(merged.Model, parse.GetValue(outDir)!, merged.Tokenizer, ExportCommand.ParseDType(parse.GetValue(dtype)!));
            output.WriteLine($"merged {adapterPath} into {merged.Source} and saved {parse.GetValue(outDir)}");
            return 0;
        });
        return command;
    }
}

namespace SharpGpt.Model.Checkpoints.HuggingFace;

/// <summary>One Hugging Face tensor that fills all or part of a SharpGPT tensor.</summary>
/// <param name="Name">Name as written by save_pretrained (with the "transformer." prefix).</param>
/// <param name="Shape">Shape in the Hugging Face file.</param>
/// <param name="Transpose">GPT-2's Conv1D stores weights [in, out]; SharpGPT stores [out, in].</param>
/// <param name="Offset">Float offset of this part inside the SharpGPT tensor (GPT-Neo's q, k, v fill one fused qkv).</param>
public sealed record HfPart(string Name, long[] Shape, bool Transpose, long Offset)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>How a SharpGPT parameter tensor maps onto Hugging Face tensors.</summary>
public sealed record HfMapping(ParameterTensor Tensor, IReadOnlyList<HfPart> Parts);

/// <summary>
/// The name and layout conventions of GPT2LMHeadModel and GPTNeoForCausalLM, declared as a table
/// (reference.md, "GPT-Neo conventions"): one place that both import and export read.
/// </summary>
public static class HfWeightMap
{
    public const string Prefix = "transformer.";

    public static IReadOnlyList<HfMapping> For(ParameterLayout layout)
    {
        GptConfig config = layout.Config;
        long c = config.EmbeddingSize;
        var mappings = new List<HfMapping>();
        foreach (ParameterTensor tensor in layout.Tensors)
        {
            long[] shape = tensor.Shape.Select(d => (long)d).ToArray();
            HfPart Same(string name) => new(Prefix + name, shape, false, 0);
            HfPart Conv1D(string name) => new(Prefix + name, [shape[1], shape[0]], true, 0);

            string[] parts = tensor.Name.Split('.');
            IReadOnlyList<HfPart> hf;
            if (tensor.Layer < 0)
            {
                // wte, wpe, ln_f.weight, ln_f.bias
                hf = [Same(tensor.Name.Contains('.') ? tensor.Name : tensor.Name + ".weight")];
            }
            else
            {
                string block = $"h.{tensor.Layer}.";
                string local = string.Join('.', parts.Skip(2)); // e.g. "attn.qkv.weight"
                hf = (config.Family, local) switch
                {
                    (_, "ln_1.weight" or "ln_1.bias" or "ln_2.weight" or "ln_2.bias") => [Same(block + local)],
                    (ModelFamily.Gpt2, "attn.qkv.weight") => [Conv1D(block + "attn.c_attn.weight")],
                    (ModelFamily.Gpt2, "attn.qkv.bias") => [Same(block + "attn.c_attn.bias")],
                    (ModelFamily.Gpt2, "attn.proj.weight") => [Conv1D(block + "attn.c_proj.weight")],
                    (ModelFamily.Gpt2, "attn.proj.bias") => [Same(block + "attn.c_proj.bias")],
                    (ModelFamily.Gpt2, "mlp.fc.weight") => [Conv1D(block + "mlp.c_fc.weight")],
                    (ModelFamily.Gpt2, "mlp.proj.weight") => [Conv1D(block + "mlp.c_proj.weight")],
                    (ModelFamily.GptNeo, "attn.qkv.weight") =>
                    [
                        new HfPart(Prefix + block + "attn.attention.q_proj.weight", [c, c], false, 0),
                        new HfPart(Prefix + block + "attn.attention.k_proj.weight", [c, c], false, c * c),
                        new HfPart(Prefix + block + "attn.attention.v_proj.weight", [c, c], false, 2 * c * c),
                    ],
                    (ModelFamily.GptNeo, "attn.proj.weight") => [Same(block + "attn.attention.out_proj.weight")],
                    (ModelFamily.GptNeo, "attn.proj.bias") => [Same(block + "attn.attention.out_proj.bias")],
                    (ModelFamily.GptNeo, "mlp.fc.weight") => [Same(block + "mlp.c_fc.weight")],
                    (_, "mlp.fc.bias") => [Same(block + "mlp.c_fc.bias")],
                    (ModelFamily.GptNeo, "mlp.proj.weight") => [Same(block + "mlp.c_proj.weight")],
                    (_, "mlp.proj.bias") => [Same(block + "mlp.c_proj.bias")],
                    _ => throw new InvalidOperationException($"No Hugging Face name for '{tensor.Name}' in the {config.Family} family."),
                };
            }
            mappings.Add(new HfMapping(tensor, hf));
        }
        return mappings;
    }

    /// <summary>Tensors that Hugging Face checkpoints may hold but that carry no trainable state (masks, tied head).</summary>
    public static bool IsKnownExtra(string name) =>
        name is "lm_head.weight"
        || name.EndsWith(".attn.bias", StringComparison.Ordinal)
        || name.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
        || name.EndsWith(".attn.attention.bias", StringComparison.Ordinal)
        || name.EndsWith(".attn.attention.masked_bias", StringComparison.Ordinal);
}

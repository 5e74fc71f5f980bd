using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Random;

namespace SharpGpt.Model;

/// <summary>
/// A GPT's weights: the config, the parameter layout and the one flat parameter buffer.
/// Computation lives elsewhere: <see cref="Training.TrainingGraph"/> (forward, loss, backward) and
/// <see cref="Inference.InferenceSession"/> (KV-cached decoding), which both read these weights.
/// </summary>
public sealed unsafe class GptModel : IDisposable
{
    public GptModel(GptConfig config)
    {
        Layout = new ParameterLayout(config);
        Parameters = new NativeBuffer(Layout.TotalFloats);
    }

    public GptConfig Config => Layout.Config;

    public ParameterLayout Layout { get; }

    /// <summary>All parameters, laid out as <see cref="Layout"/> says.</summary>
    public NativeBuffer Parameters { get; }

    public float* Pointer(long offset) => Parameters.Pointer + offset;

    /// <summary>The values of one named tensor.</summary>
    public Span<float> Tensor(string name)
    {
        ParameterTensor tensor = Layout[name];
        return Parameters.Slice(tensor.Offset, checked((int)tensor.Length));
    }

    /// <summary>
    /// GPT-2 initialisation: weights and embeddings N(0, 0.02), biases 0, LayerNorm weight 1 and bias 0,
    /// and the two residual projections of each block (attn.proj, mlp.proj) N(0, 0.02/√(2·n_layer)),
    /// so the residual stream's variance does not grow with depth.
    /// </summary>
    public void InitializeGpt2(Rng rng, float standardDeviation = 0.02f)
    {
        Parameters.Clear();
        float residualStd = standardDeviation / MathF.Sqrt(2f * Config.LayerCount);
        foreach (ParameterTensor tensor in Layout.Tensors)
        {
            Span<float> values = Parameters.Slice(tensor.Offset, checked((int)tensor.Length));
            switch (tensor.Kind)
            {
                case ParameterKind.Norm when tensor.Name.EndsWith(".weight", StringComparison.Ordinal):
                    values.Fill(1f);
                    break;
                case ParameterKind.Norm or ParameterKind.Bias:
                    values.Clear();
                    break;
                default:
                    bool residual = tensor.Name.EndsWith("attn.proj.weight", StringComparison.Ordinal)
                        || tensor.Name.EndsWith("mlp.proj.weight", StringComparison.Ordinal);
                    float std = residual ? residualStd : standardDeviation;
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = (float)(rng.NextGaussian() * std);
                    }
                    break;
            }
        }
    }

    /// <summary>
    /// Frees the full parameter buffer for good (ZeRO stage 3 keeps only shards and gathers units on demand);
    /// any later use of <see cref="Parameters"/> fails.
    /// </summary>
    public void ReleaseParameters() => Parameters.Dispose();

    /// <summary>Quantized matrices for inference, when <see cref="Quantize"/> was called.</summary>
    public Inference.QuantizedWeights? Quantized { get; private set; }

    /// <summary>
    /// True once <see cref="Quantize"/> gave the memory of the fp32 block matrices back: the model then only serves
    /// inference through its quantized matrices, and anything that needs those fp32 weights refuses.
    /// </summary>
    public bool FloatMatricesReleased { get; private set; }

    /// <summary>
    /// Quantizes the matrices and the token table for inference (a quantized model also embeds tokens from the
    /// quantized table). With <paramref name="keepFloatWeights"/> the fp32 weights stay for everything else
    /// (training, export, quantizing again); without it, each fp32 copy goes back to the operating system as soon as
    /// it is quantized (99% of GPT-2 124M's weights), so a quantized model takes a fraction of the fp32 memory
    /// (`sharpgpt serve`, GPT-2 124M shapes, one slot, after a request: fp32 698 MB resident, int8 386 MB, q4 287 MB).
    /// </summary>
    public void Quantize(Tensors.Kernels.Quantized.QuantizationKind kind, bool keepFloatWeights = true)
    {
        ThrowIfFloatMatricesReleased("quantize again");
        Quantized?.Dispose();
        Quantized = Inference.QuantizedWeights.Create(this, kind, releaseFloat: !keepFloatWeights);
        FloatMatricesReleased = !keepFloatWeights;
    }

    /// <summary>
    /// Serves inference from <paramref name="weights"/> read from a quantized checkpoint (`sharpgpt quantize`): the
    /// fp32 matrices and token table were never loaded, and their pages go back to the operating system.
    /// </summary>
    public void UseQuantized(Inference.QuantizedWeights weights)
    {
        Quantized?.Dispose();
        Quantized = weights;
        foreach (ParameterTensor tensor in Inference.QuantizedWeights.SourceTensors(Layout))
        {
            Parameters.ReleaseRange(tensor.Offset, tensor.Length);
        }
        FloatMatricesReleased = true;
    }

    /// <summary>Throws when the fp32 block matrices that <paramref name="action"/> needs are not in memory.</summary>
    public void ThrowIfFloatMatricesReleased(string action)
    {
        if (FloatMatricesReleased)
        {
            throw new SharpGptException(
                $"Cannot {action}: this model holds quantized weights for inference only (its fp32 weights were released, or it was " +
                "loaded from a `sharpgpt quantize` folder). Use the fp32 model.");
        }
    }

    public void Dispose()
    {
        Parameters.Dispose();
        Quantized?.Dispose();
    }
}

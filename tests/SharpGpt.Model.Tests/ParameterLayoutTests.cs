using Xunit;

namespace SharpGpt.Model.Tests;

public class ParameterLayoutTests
{
    [Fact]
    public void TensorsAreAlignedContiguousAndGroupedByBlock()
    {
        ParameterLayout layout = new(GptPresets.Get("gpt-neo-125m"));
        long previousEnd = 0;
        foreach (ParameterTensor tensor in layout.Tensors)
        {
            Assert.Equal(0, tensor.Offset % ParameterLayout.AlignmentFloats);
            Assert.True(tensor.Offset >= previousEnd, tensor.Name);
            Assert.True(tensor.Offset - previousEnd < ParameterLayout.AlignmentFloats, tensor.Name);
            previousEnd = tensor.Offset + tensor.Length;
        }
        for (int l = 0; l < layout.Layers.Count; l++)
        {
            LayerOffsets block = layout.Layers[l];
            Assert.All(layout.Tensors.Where(t => t.Layer == l), t => Assert.InRange(t.Offset, block.Start, block.End - 1));
            Assert.Equal(-1, block.QkvBias);
        }
        Assert.Equal(ParameterKind.Matrix, layout["h.3.mlp.fc.weight"].Kind);
        Assert.Equal([3072, 768], layout["h.3.mlp.fc.weight"].Shape);
        Assert.Equal([2304, 768], layout["h.0.attn.qkv.weight"].Shape);
        Assert.Throws<KeyNotFoundException>(() => layout["h.0.attn.qkv.bias"]);
    }
}

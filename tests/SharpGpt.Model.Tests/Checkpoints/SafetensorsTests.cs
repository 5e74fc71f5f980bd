using System.Text;
using SharpGpt.Model.Checkpoints;
using SharpGpt.Model.Checkpoints.Safetensors;
using Xunit;

namespace SharpGpt.Model.Tests.Checkpoints;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-st").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(SafetensorsDType.F32, 0.0)]
    [InlineData(SafetensorsDType.F16, 1e-3)]   // 11-bit mantissa: relative error ≤ 2⁻¹¹ ≈ 4.9e-4
    [InlineData(SafetensorsDType.BF16, 4e-3)]  // 8-bit mantissa, round to nearest: relative error ≤ 2⁻⁹ ≈ 2e-3
    public void WritesAndReadsBack(SafetensorsDType dtype, double relativeTolerance)
    {
        float[] a = Enumerable.Range(0, 35).Select(i => (float)Math.Sin(i) * 3f).ToArray();
        float[] b = [1.5f, -2.25f, 0f, 65504f];
        string path = Path.Combine(_dir, "t.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensorSource.FromArray("a", [5, 7], a), SafetensorsTensorSource.FromArray("b", [4], b)], dtype, new Dictionary<string, string> { ["k"] = "v" });
        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal("v", file.Metadata["k"]);
        Assert.Equal([5L, 7], file.Entry("a").Shape);
        float[] readA = new float[35], readB = new float[4];
        file.ReadFloat32(file.Entry("a"), readA);
        file.ReadFloat32(file.Entry("b"), readB);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.InRange(readA[i], a[i] - relativeTolerance * Math.Abs(a[i]) - 1e-7, a[i] + relativeTolerance * Math.Abs(a[i]) + 1e-7);
        }
        Assert.Equal(b.Take(3), readB.Take(3));
        // Header length is a multiple of 8 so the data section is aligned.
        Assert.Equal(0UL, BitConverter.ToUInt64(File.ReadAllBytes(path), 0) % 8);
    }

    public static TheoryData<string, string, string> HostileHeaders() => new()
    {
        // name, header JSON, text the error must contain
        { "not json", "{\"a\": ", "not valid JSON" },
        { "array", "[1,2]", "JSON object" },
        { "no offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "data_offsets" },
        { "past the end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1000],\"data_offsets\":[0,4000]}}", "outside" },
        { "size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "needs 12" },
        { "negative dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "invalid dimension" },
        { "overflowing shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807, 4],\"data_offsets\":[0,4]}}", "overflow" },
        { "unknown dtype", "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unknown dtype" },
        { "reversed offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", "outside" },
        { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "overlap" },
        { "duplicate", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "twice" },
    };

    [Theory]
    [MemberData(nameof(HostileHeaders))]
    public void RejectsHostileHeadersWithAClearMessage(string name, string header, string expected)
    {
        string path = WriteRaw(header, new byte[16]);
        var ex = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(expected, ex.Message);
        Assert.Contains(path, ex.Message);
        _ = name;
    }

    [Fact]
    public void RejectsTruncatedAndTinyFiles()
    {
        string tiny = Path.Combine(_dir, "tiny.safetensors");
        File.WriteAllBytes(tiny, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(tiny)).Message);

        // A header length that claims far more than the file holds (or a hostile 2^63).
        string huge = Path.Combine(_dir, "huge.safetensors");
        File.WriteAllBytes(huge, [.. BitConverter.GetBytes(ulong.MaxValue / 2), .. "{}"u8.ToArray()]);
        Assert.Contains("does not fit", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(huge)).Message);

        // A valid file cut in the middle of its data.
        string good = Path.Combine(_dir, "good.safetensors");
        SafetensorsWriter.Write(good, [new("w", [100], (_, s) => s.Fill(1f))]);
        byte[] bytes = File.ReadAllBytes(good);
        string cut = Path.Combine(_dir, "cut.safetensors");
        File.WriteAllBytes(cut, bytes[..^50]);
        var ex = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(cut));
        Assert.Contains("'w'", ex.Message);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void RejectsNonFloatReadsAndWrongSizes()
    {
        string path = WriteRaw("{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[16]);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        var ex = Assert.Throws<CheckpointException>(() => file.ReadFloat32(file.Entry("ids"), new float[2]));
        Assert.Contains("I64", ex.Message);
        Assert.Contains("'missing'", Assert.Throws<CheckpointException>(() => file.Entry("missing")).Message);
    }

    [Fact]
    public void WritesRawByteTensorsAfterTheFloatOnesAndChecksTheirLength()
    {
        string path = Path.Combine(_dir, "mixed.safetensors");
        byte[] int8 = [1, 0x80, 0xFF, 7, 0, 9];
        float[] scales = [0.5f, 2f];
        SafetensorsWriter.Write(path, [SafetensorsTensorSource.FromArray("f", [2], [3f, 4f])], byteTensors:
        [
            new SafetensorsBytesSource("q", SafetensorsDType.I8, [2, 3], stream => stream.Write(int8)),
            new SafetensorsBytesSource("s", SafetensorsDType.F32, [2], stream => stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(scales.AsSpan()))),
        ]);
        using (SafetensorsFile file = SafetensorsFile.Open(path))
        {
            byte[] q = new byte[6];
            file.ReadBytes(file.Entry("q"), SafetensorsDType.I8, q);
            Assert.Equal(int8, q);
            float[] s = new float[2];
            file.ReadFloat32(file.Entry("s"), s);
            Assert.Equal(scales, s);
            Assert.Contains("dtype I8, expected U8", Assert.Throws<CheckpointException>(() => file.ReadBytes(file.Entry("q"), SafetensorsDType.U8, q)).Message);
            Assert.Contains("6 bytes, expected 5", Assert.Throws<CheckpointException>(() => file.ReadBytes(file.Entry("q"), SafetensorsDType.I8, new byte[5])).Message);
        }

        string bad = Path.Combine(_dir, "short.safetensors");
        var ex = Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(bad, [],
            byteTensors: [new SafetensorsBytesSource("q", SafetensorsDType.U8, [4], stream => stream.Write(int8.AsSpan(0, 3)))]));
        Assert.Contains("'q' wrote 3 bytes; its shape needs 4", ex.Message);
        Assert.Empty(Directory.GetFiles(_dir, "*short*", SearchOption.AllDirectories));
    }

    private string WriteRaw(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. data]);
        return path;
    }
}

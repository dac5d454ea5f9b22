using System.IO.Pipelines;

namespace Pb;

/// <summary>A stream (here a TLS <see cref="System.Net.Security.SslStream"/>) as a duplex pipe; disposing it disposes the stream.</summary>
internal sealed class StreamPipe(Stream stream) : IDuplexPipe, IAsyncDisposable
{
    public PipeReader Input { get; } = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));

    public PipeWriter Output { get; } = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));

    public ValueTask DisposeAsync() => stream.DisposeAsync();
}

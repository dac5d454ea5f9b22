using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Pb.Banana;
using Pb.Jelly;

namespace Pb;

/// <summary>The broker's receiving side: every message of PB-WIRE.md 3.2, handled on the read loop.</summary>
internal sealed partial class Broker
{
    // ---------------------------------------------------------------- receiving (read loop only)

    /// <summary>Handles one complete top-level item. Throws <see cref="PbProtocolException"/> to close the connection.</summary>
    public void HandleMessage(in ReadOnlySequence<byte> item)
    {
        var r = new BananaReader(item, _transport.Dialect, _transport.Limits);
        if (!r.TryReadToken(out BananaToken list) || list.Kind != BananaTokenKind.List || list.Count == 0)
        {
            throw new PbProtocolException(list.Kind == BananaTokenKind.List ? "Empty list received." : "Non-list expression received.");
        }
        BananaToken command = Next(ref r);
        if (command.Kind != BananaTokenKind.Bytes)
        {
            throw new PbProtocolException("A message must start with a command word.");
        }
        int count = list.Count;
        int vocab = command.VocabIndex;
        if (vocab == 0 && command.TryGetSpan(out ReadOnlySpan<byte> word))
        {
            vocab = BananaVocabulary.IndexOf(word);
            if (vocab == 0 && word.SequenceEqual("didNotUnderstand"u8))
            {
                LogDidNotUnderstand(_logger);
                return;
            }
        }
        switch (vocab)
        {
            case 26: // message
                Expect(count, 7, "message");
                ReceiveMessage(ref r, cache: false);
                return;
            case 27: // answer
                Expect(count, 3, "answer");
                ReceiveAnswer(ref r, isError: false);
                return;
            case 28: // error
                Expect(count, 3, "error");
                ReceiveAnswer(ref r, isError: true);
                return;
            case 29: // decref
                Expect(count, 2, "decref");
                ReceiveDecref(ReadInt(ref r));
                return;
            case 19: // version
                Expect(count, 2, "version");
                long version = ReadInt(ref r);
                if (version != 6)
                {
                    throw new PbProtocolException($"Version Incompatibility: 6 {version}");
                }
                return;
            case 25: // cachemessage: a call on our copy of the peer's Cacheable
                Expect(count, 7, "cachemessage");
                ReceiveMessage(ref r, cache: true);
                return;
            case 30: // decache
                Expect(count, 2, "decache");
                ReceiveDecache(ReadInt(ref r));
                return;
            case 31: // uncache
                Expect(count, 2, "uncache");
                ReceiveUncache(ReadInt(ref r));
                return;
            default:
                throw new PbProtocolException("Unknown command received (Twisted closes the connection here too).");
        }
    }

    private static void Expect(int count, int expected, string command)
    {
        if (count != expected)
        {
            throw new PbProtocolException($"'{command}' has {count - 1} fields instead of {expected - 1}.");
        }
    }

    private static BananaToken Next(ref BananaReader r)
    {
        if (!r.TryReadToken(out BananaToken token))
        {
            throw new PbProtocolException("A message ended early.");
        }
        return token;
    }

    private static long ReadInt(ref BananaReader r)
    {
        BananaToken token = Next(ref r);
        if (token.Kind != BananaTokenKind.Integer || token.IsBigInteger)
        {
            throw new PbProtocolException("A message field that must be an integer is not one.");
        }
        return token.Int64;
    }

    private void ReceiveMessage(ref BananaReader r, bool cache)
    {
        long requestId = ReadInt(ref r);
        BananaToken objectToken = Next(ref r);
        BananaToken nameToken = Next(ref r);
        bool answer = ReadInt(ref r) != 0;
        if (nameToken.Kind != BananaTokenKind.Bytes)
        {
            throw new PbProtocolException("A method name must be a byte string.");
        }
        ReadOnlySpan<byte> name = nameToken.TryGetSpan(out ReadOnlySpan<byte> span) ? span : nameToken.ToArray();
        object? target = cache ? FindHeldCache(objectToken) : FindTarget(objectToken);
        if (target is null)
        {
            string id = objectToken.Kind == BananaTokenKind.Integer ? objectToken.Int64.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
            Fail(requestId, answer, cache ? new PbException(id) { RemoteTypeName = "builtins.KeyError" } : new PbException("Invalid Object ID"), name);
            return;
        }
        // Twisted's three kinds of callee: a ViewPoint calls its Viewable with the perspective it was sent for; an
        // avatar's calls run with the avatar as the perspective; other objects have none. The arguments are read for
        // that perspective: references among them keep it for the calls made through them.
        object? perspective = null;
        if (target is ViewPoint viewPoint)
        {
            perspective = viewPoint.Perspective;
            target = viewPoint.Viewable;
        }
        else if (target is Avatar)
        {
            perspective = target;
        }
        // The method is known before its arguments: those it takes typed are read straight into their types. A failed
        // lookup is reported after the arguments were read, as before.
        RemoteMethod? method = null;
        InvalidOperationException? lookupFailure = null;
        try
        {
            method = FindMethod(target.GetType(), name);
        }
        catch (InvalidOperationException e)
        {
            lookupFailure = e;
        }
        PbTuple args;
        PbDictionary? kwargs;
        _receivingPerspective = perspective;
        try
        {
            args = (method?.WirePlans is { } plans ? _unjellier.UnjellyTypedTuple(ref r, this, plans) : null)
                ?? _unjellier.Unjelly(ref r, this) as PbTuple ?? throw new PbException("The arguments must be a tuple.") { RemoteTypeName = "builtins.TypeError" };
            if (r.IsAtEmptyDictionary())
            {
                kwargs = null; // almost every call: ["dictionary"] needs no object at all
            }
            else
            {
                object? kw = _unjellier.Unjelly(ref r, this);
                kwargs = kw as PbDictionary ?? (kw is null ? null : throw new PbException("The keyword arguments must be a dictionary.") { RemoteTypeName = "builtins.TypeError" });
            }
        }
        catch (Exception e) when (e is JellyException or PbException)
        {
            Fail(requestId, answer, e, name);
            return;
        }
        finally
        {
            _receivingPerspective = null;
        }
        if (lookupFailure is not null)
        {
            // A type whose remote methods cannot be described (two methods with one name, ...): a bug in the
            // application, reported for this call, logged, and never a reason to drop the connection.
            Fail(requestId, answer, lookupFailure, name);
            return;
        }
        if (method is null)
        {
            Fail(requestId, answer, new PbException($"No such method: remote_{System.Text.Encoding.UTF8.GetString(name)}") { RemoteTypeName = "twisted.spread.flavors.NoSuchMethod" }, name);
            return;
        }
        if (_metrics.Calls.Enabled)
        {
            _metrics.Calls.Add(1);
        }
        if (Interlocked.Increment(ref _runningInvocations) > _options.MaxConcurrentInvocations)
        {
            Interlocked.Decrement(ref _runningInvocations);
            Fail(requestId, answer, new PbException($"Too many calls are running for this connection ({_options.MaxConcurrentInvocations}, BrokerOptions.MaxConcurrentInvocations)."), name);
            return;
        }
        ValueTask<object?> result;
        System.Diagnostics.Activity? outer = System.Diagnostics.Activity.Current;
        System.Diagnostics.Activity? activity = PbTelemetry.StartCall(method.Name);
        long started = _metrics.CallDuration.Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
        try
        {
            object?[] arguments = method.Bind(args, kwargs, _disconnected.Token, perspective);
            IPbCallFilter[] filters = method.FiltersFrom(_filters);
            result = filters.Length == 0 && !method.NeedsContext
                ? method.InvokeAsync(target, arguments)
                : InvokeInContextAsync(new PbCallContext(_transport.Connection, method, target, perspective, arguments, !answer, _userFor, _transport.CallServices, _disconnected.Token), filters);
        }
        catch (Exception e)
        {
            Interlocked.Decrement(ref _runningInvocations);
            Fail(requestId, answer, e, method.Name);
            EndCall(activity, started, e, method);
            return;
        }
        finally
        {
            // The call's activity flows with the method's own continuations; the read loop goes back to what it had,
            // so the next call read is not taken for a child of this one.
            if (activity is not null)
            {
                System.Diagnostics.Activity.Current = outer;
            }
        }
        if (result.IsCompleted)
        {
            Interlocked.Decrement(ref _runningInvocations);
            Exception? failure = Complete(requestId, answer, result, method.Name, perspective);
            EndCall(activity, started, failure, method);
            return;
        }
        _ = CompleteLaterAsync(requestId, answer, result, method, perspective, activity, started);
    }

    /// <summary>A call with filters or a context: services bound from the call's scope, the filters, then the method.</summary>
    private static ValueTask<object?> InvokeInContextAsync(PbCallContext context, IPbCallFilter[] filters)
    {
        ValueTask<object?> run;
        try
        {
            context.RemoteMethod.BindContext(context.ArgumentValues, context);
            run = filters.Length == 0 ? InvokeMethod(context) : RunFilter(context, filters, 0);
        }
        catch
        {
            _ = context.DisposeAsync().AsTask();
            throw;
        }
        if (run.IsCompletedSuccessfully)
        {
            ValueTask disposed = context.DisposeAsync();
            return disposed.IsCompletedSuccessfully ? run : AwaitDisposeAsync(run.Result, disposed);
        }
        return AwaitAsync(run, context);

        static async ValueTask<object?> AwaitDisposeAsync(object? result, ValueTask disposed)
        {
            await disposed.ConfigureAwait(false);
            return result;
        }

        static async ValueTask<object?> AwaitAsync(ValueTask<object?> run, PbCallContext context)
        {
            try
            {
                return await run.ConfigureAwait(false);
            }
            finally
            {
                await context.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static ValueTask<object?> InvokeMethod(PbCallContext context) => context.RemoteMethod.InvokeAsync(context.Target, context.ArgumentValues);

    private static ValueTask<object?> RunFilter(PbCallContext context, IPbCallFilter[] filters, int index) =>
        index == filters.Length
            ? InvokeMethod(context)
            : filters[index].InvokeAsync(context, c => RunFilter(c, filters, index + 1));

    private async Task CompleteLaterAsync(long requestId, bool answer, ValueTask<object?> result, RemoteMethod method, object? perspective, System.Diagnostics.Activity? activity, long started)
    {
        Exception? error = null;
        try
        {
            object? value = await result.ConfigureAwait(false);
            if (answer)
            {
                SendAnswer(requestId, value, perspective);
            }
        }
        catch (Exception e)
        {
            error = e;
            Fail(requestId, answer, e, method.Name);
        }
        finally
        {
            Interlocked.Decrement(ref _runningInvocations);
            EndCall(activity, started, error, method);
        }
    }

    private void EndCall(System.Diagnostics.Activity? activity, long started, Exception? error, RemoteMethod method)
    {
        if (started != 0)
        {
            _metrics.RecordCall(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, method.Name, method.TargetType, error);
        }
        if (error is not null && _metrics.CallErrors.Enabled)
        {
            _metrics.CallErrors.Add(1);
        }
        if (activity is not null)
        {
            if (error is not null)
            {
                activity.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error.GetType().Name);
            }
            activity.Dispose();
        }
    }

    /// <summary>Answers a call that finished at once; returns its exception, if it failed.</summary>
    private Exception? Complete(long requestId, bool answer, ValueTask<object?> result, string method, object? perspective)
    {
        object? value;
        try
        {
            value = result.Result;
        }
        catch (Exception e)
        {
            Fail(requestId, answer, e, method);
            return e;
        }
        if (answer)
        {
            SendAnswer(requestId, value, perspective);
        }
        return null;
    }

    private void Fail(long requestId, bool answer, Exception error, ReadOnlySpan<byte> method) =>
        Fail(requestId, answer, error, System.Text.Encoding.UTF8.GetString(method));

    private void Fail(long requestId, bool answer, Exception error, string method)
    {
        if (answer)
        {
            SendError(requestId, error, method);
        }
        else if (error is not PbException)
        {
            LogOneWayFailed(_logger, method, error);
        }
    }

    private RemoteCache? FindHeldCache(in BananaToken idToken)
    {
        if (idToken.Kind != BananaTokenKind.Integer || idToken.IsBigInteger)
        {
            return null;
        }
        lock (_gate)
        {
            return _held.GetValueOrDefault(idToken.Int64);
        }
    }

    private object? FindTarget(in BananaToken objectToken)
    {
        if (objectToken.Kind == BananaTokenKind.Bytes)
        {
            return objectToken.TryGetSpan(out ReadOnlySpan<byte> id) && id.SequenceEqual(s_root) ? _root : null;
        }
        if (objectToken.Kind != BananaTokenKind.Integer || objectToken.IsBigInteger)
        {
            return null;
        }
        lock (_gate)
        {
            return _locals.TryGetValue(objectToken.Int64, out LocalObject? local) ? local.Value : null;
        }
    }

    // The method called last (read loop only): a stream of calls to one method (pushes to an observer) finds it at once.
    private Type? _lastTargetType;
    private byte[] _lastMethodName = [];
    private RemoteMethod? _lastMethod;

    private RemoteMethod? FindMethod(Type type, ReadOnlySpan<byte> name)
    {
        if (type == _lastTargetType && _lastMethod is not null && name.SequenceEqual(_lastMethodName))
        {
            return _lastMethod;
        }
        RemoteMethod? method = RemoteMethodTable.For(type).Find(name);
        if (method is not null && name.Length <= 64)
        {
            _lastTargetType = type;
            _lastMethodName = name.ToArray();
            _lastMethod = method;
        }
        return method;
    }

    private void ReceiveAnswer(ref BananaReader r, bool isError)
    {
        long requestId = ReadInt(ref r);
        PendingCall? pending;
        lock (_gate)
        {
            if (!_pending.Remove(requestId, out pending))
            {
                throw new PbProtocolException($"'{(isError ? "error" : "answer")}' for request {requestId}, which is not pending.");
            }
        }
        object? value;
        try
        {
            if (isError || pending.ResultPlan is not { } plan || !_unjellier.TryUnjellyTyped(ref r, this, plan, out value))
            {
                value = _unjellier.Unjelly(ref r, this);
            }
        }
        catch (Exception e) when (e is JellyException)
        {
            // Twisted closes the connection and never fires the caller's Deferred; we fail this call only.
            _completions.Add((pending, null, new JellyException($"The answer to '{pending.Method}' could not be read: {e.Message}", e)));
            return;
        }
        _completions.Add(!isError
            ? (pending, value, null)
            : (pending, null, value is CopyableFailure failure
                ? failure.ToException()
                : new RemoteException(PbValueFormatter.PythonTypeName(value), PbValueFormatter.Format(value))));
    }

    /// <summary>
    /// Called by the read loop after each batch of messages: completes the answered calls on one thread-pool thread.
    /// The callers' continuations run there, one after another, not on the read loop: one thread hand-off per
    /// batch instead of one per answer.
    /// </summary>
    public void EndOfBatch()
    {
        if (_completions.Count == 0)
        {
            return;
        }
        List<(PendingCall Call, object? Value, Exception? Error)> batch = _completions;
        _completions = new List<(PendingCall, object?, Exception?)>(batch.Count);
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Broker.CompleteBatch(state.Batch), (Broker: this, Batch: batch), preferLocal: false);
    }

    private void CompleteBatch(List<(PendingCall Call, object? Value, Exception? Error)> batch)
    {
        // The continuations run here, one after another; the next calls they make leave in one write.
        _transport.HoldFlushes();
        try
        {
            Complete(batch);
        }
        finally
        {
            _transport.ReleaseFlushes();
        }
    }

    /// <remarks>
    /// The continuations run with nothing held back: a continuation may call again and block on that call's answer
    /// (<c>.Result</c>), so its message must leave at once. Messages still travel together when the socket is busy:
    /// whatever is queued while a write is in flight goes out in the next one.
    /// </remarks>
    private static void Complete(List<(PendingCall Call, object? Value, Exception? Error)> batch)
    {
        foreach ((PendingCall call, object? value, Exception? error) in batch)
        {
            if (error is null)
            {
                call.TrySetResult(value);
            }
            else
            {
                call.TrySetException(error);
            }
        }
    }

    private void ReceiveDecref(long luid)
    {
        object? released = null;
        lock (_gate)
        {
            if (!_locals.TryGetValue(luid, out LocalObject? local))
            {
                throw new PbProtocolException($"decref for object {luid}, which is not exported.");
            }
            if (--local.RefCount == 0)
            {
                _locals.Remove(luid);
                _localIds.Remove(local.Value);
                if (local.Value is ViewPoint point)
                {
                    _viewPoints.Remove((point.Viewable, point.Perspective));
                }
                released = local.Value;
            }
        }
        if (released is not null)
        {
            Released?.Invoke(released);
        }
    }
}

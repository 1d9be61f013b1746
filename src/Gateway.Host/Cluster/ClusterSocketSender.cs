using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using Gateway.Host.Configuration;
using Gateway.Host.Endpoints;
using Gateway.Host.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Gateway.Host.Cluster;

/// <summary>
/// <see cref="ISocketSender"/> in a cluster: a socket running here is sent to directly; any other is
/// forwarded through Redis (pub/sub) to the replica holding its lease, which sends it with its own
/// <see cref="SocketSender"/> and answers with the outcome. A group publish covers the members on
/// every replica.
/// </summary>
internal sealed partial class ClusterSocketSender : ISocketSender, IHostedService, IDisposable
{
    /// <summary>How much longer than the owner's own bounds a forwarded send waits for its answer.</summary>
    public static readonly TimeSpan ForwardMargin = TimeSpan.FromSeconds(5);

    private readonly SocketSender _local;
    private readonly SocketSupervisor _supervisor;
    private readonly ClusterConnection _connection;
    private readonly IClusterStore _store;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly string _replicaId;
    private readonly string _channelPrefix;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<ForwardedResult>> _pending = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private Task _subscribing = Task.CompletedTask;

    public ClusterSocketSender(SocketSender local, SocketSupervisor supervisor, ClusterConnection connection, IClusterStore store, ClusterOptions options, IServiceProvider services, ILogger<ClusterSocketSender> logger)
    {
        _local = local;
        _supervisor = supervisor;
        _connection = connection;
        _store = store;
        _services = services;
        _logger = logger;
        _replicaId = options.ReplicaId;
        _channelPrefix = RedisClusterStore.KeyPrefix(options.Name) + ":to:";
    }

    private RedisChannel ChannelOf(string replicaId) => RedisChannel.Literal(_channelPrefix + replicaId);

    public ValueTask<SendResult> SendAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default)
        => _supervisor.TryGet(socketName, out _) ? _local.SendAsync(socketName, message, cancellationToken) : ForwardAsync(socketName, ForwardedOperation.Send, [message], cancellationToken);

    public ValueTask<SendResult> SendAndWaitAsync(string socketName, OutboundMessage message, CancellationToken cancellationToken = default)
        => _supervisor.TryGet(socketName, out _) ? _local.SendAndWaitAsync(socketName, message, cancellationToken) : ForwardAsync(socketName, ForwardedOperation.SendAndWait, [message], cancellationToken);

    public ValueTask<SendResult> SendBatchAsync(string socketName, IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return _supervisor.TryGet(socketName, out _) ? _local.SendBatchAsync(socketName, messages, cancellationToken) : ForwardAsync(socketName, ForwardedOperation.Batch, messages, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<SendResult>> PublishAsync(string group, OutboundMessage message, CancellationToken cancellationToken = default)
    {
        var members = _supervisor.Current.Sockets
            .Where(s => s.Value.Enabled && s.Value.Groups.Contains(group, StringComparer.OrdinalIgnoreCase))
            .Select(s => s.Key)
            .Order(StringComparer.Ordinal)
            .ToList();
        var sends = members.Select(name => SendAsync(name, message, cancellationToken).AsTask()).ToArray();
        return await Task.WhenAll(sends).ConfigureAwait(false);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Connecting may block for the connect timeout: not on the host's start.
        _subscribing = Task.Run(() => SubscribeAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _subscribing.ConfigureAwait(false);
        try
        {
            await _connection.Subscriber.UnsubscribeAsync(ChannelOf(_replicaId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or OperationCanceledException)
        {
            // Redis is away; the subscription ends with the connection.
        }
    }

    public void Dispose() => _stopping.Dispose();

    private async ValueTask<SendResult> ForwardAsync(string socketName, ForwardedOperation operation, IReadOnlyList<OutboundMessage> messages, CancellationToken cancellationToken)
    {
        if (!_supervisor.Current.Sockets.TryGetValue(socketName, out var options) || !options.Enabled)
        {
            return new SendResult(socketName, SendStatus.UnknownSocket);
        }

        var name = _supervisor.Current.Sockets.Keys.First(k => k.Equals(socketName, StringComparison.OrdinalIgnoreCase));
        ForwardedMessage[] forwarded;
        try
        {
            forwarded = [.. messages.Select(m => ToForwarded(m, options))];
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The socket's encoder refused the value: what the owner's encoder would have done.
            return new SendResult(name, SendStatus.Invalid) { Error = $"the outbound encoder '{options.Outbound.Encoder}' failed: {ex.Message}" };
        }

        var id = Guid.NewGuid().ToString("N");
        var answer = new TaskCompletionSource<ForwardedResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            var owner = (await _store.OwnersAsync([name], cancellationToken).ConfigureAwait(false))[0];
            if (owner is null || owner == _replicaId)
            {
                // Between two owners (a handover, a failover): nobody can take it now.
                Log.NoOwner(_logger, name);
                return new SendResult(name, SendStatus.NotConnected);
            }

            var request = new ForwardEnvelope(Request: new ForwardedSend(id, _replicaId, operation, name, forwarded));
            var receivers = await _connection.Subscriber.PublishAsync(ChannelOf(owner), JsonSerializer.SerializeToUtf8Bytes(request, SocketApiEndpoints.JsonOptions)).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (receivers == 0)
            {
                Log.OwnerNotListening(_logger, name, owner);
                return new SendResult(name, SendStatus.NotConnected);
            }

            var bound = options.Outbound.SendTimeout + (operation == ForwardedOperation.Send ? TimeSpan.Zero : options.ReplyTimeout) + ForwardMargin;
            try
            {
                var result = await answer.Task.WaitAsync(bound, cancellationToken).ConfigureAwait(false);
                return new SendResult(name, result.Status) { Reply = result.Reply, Error = result.Error };
            }
            catch (TimeoutException)
            {
                // Handed to the owner, no answer: it may or may not have been sent.
                Log.NoAnswer(_logger, name, owner, bound);
                return new SendResult(name, SendStatus.NoReply) { Error = $"forwarded to replica '{owner}', which did not answer within {bound}" };
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.ForwardFailed(_logger, name, ex.Message);
            return new SendResult(name, SendStatus.NotConnected) { Error = $"cluster Redis unreachable: {ex.Message}" };
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private ForwardedMessage ToForwarded(OutboundMessage message, SocketOptions options)
    {
        string[][] headers = [.. message.Headers.Select(h => new[] { h.Key, h.Value })];
        if (message.Value is not { } value)
        {
            return new ForwardedMessage(message.Kind, message.Payload.ToArray(), headers);
        }

        var encoder = _services.GetRequiredKeyedService<IOutboundEncoder>(options.Outbound.Encoder);
        var output = new ArrayBufferWriter<byte>();
        var kind = encoder.Encode(value, output);
        return new ForwardedMessage(kind, output.WrittenSpan.ToArray(), headers);
    }

    private static OutboundMessage FromForwarded(ForwardedMessage message)
    {
        var result = message.Kind == FrameKind.Binary ? OutboundMessage.Binary(message.Payload) : OutboundMessage.Utf8Text(message.Payload);
        foreach (var header in message.Headers)
        {
            if (header is [var key, var value])
            {
                result = result.WithHeader(key, value);
            }
        }

        return result;
    }

    private async Task SubscribeAsync(CancellationToken stoppingToken)
    {
        // Redis may be away at start: keep trying; once subscribed, the client restores the subscription after reconnects.
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _connection.Subscriber.SubscribeAsync(ChannelOf(_replicaId), (_, payload) => OnMessage(payload)).WaitAsync(stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                Log.SubscribeFailed(_logger, ex.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private void OnMessage(RedisValue payload)
    {
        ForwardEnvelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize<ForwardEnvelope>((byte[])payload!, SocketApiEndpoints.JsonOptions);
        }
        catch (JsonException ex)
        {
            Log.BadMessage(_logger, ex.Message);
            return;
        }

        if (envelope?.Result is { } result)
        {
            if (_pending.TryGetValue(result.Id, out var waiting))
            {
                waiting.TrySetResult(result);
            }
        }
        else if (envelope?.Request is { } request)
        {
            _ = Task.Run(() => RunForwardedAsync(request));
        }
    }

    private async Task RunForwardedAsync(ForwardedSend request)
    {
        SendResult outcome;
        try
        {
            if (!_supervisor.TryGet(request.Socket, out _))
            {
                // The lease moved on since the sender looked: never forwarded twice, so no loop.
                outcome = new SendResult(request.Socket, SendStatus.NotConnected);
            }
            else
            {
                var messages = request.Messages.Select(FromForwarded).ToList();
                using var timeout = new CancellationTokenSource(_supervisor.Current.Sockets.TryGetValue(request.Socket, out var options)
                    ? options.Outbound.SendTimeout + options.ReplyTimeout + ForwardMargin
                    : ForwardMargin);
                outcome = request.Operation switch
                {
                    ForwardedOperation.SendAndWait when messages.Count == 1 => await _local.SendAndWaitAsync(request.Socket, messages[0], timeout.Token).ConfigureAwait(false),
                    ForwardedOperation.Send when messages.Count == 1 => await _local.SendAsync(request.Socket, messages[0], timeout.Token).ConfigureAwait(false),
                    _ => await _local.SendBatchAsync(request.Socket, messages, timeout.Token).ConfigureAwait(false),
                };
                Log.ForwardedSendRun(_logger, request.Socket, request.From, outcome.Status);
            }
        }
        catch (OperationCanceledException)
        {
            outcome = new SendResult(request.Socket, SendStatus.NoReply);
        }
        catch (Exception ex)
        {
            Log.ForwardedSendFailed(_logger, request.Socket, request.From, ex);
            outcome = new SendResult(request.Socket, SendStatus.Stopped) { Error = ex.Message };
        }

        try
        {
            var answer = new ForwardEnvelope(Result: new ForwardedResult(request.Id, outcome.Status, outcome.Reply.IsEmpty ? null : outcome.Reply.ToArray(), outcome.Error));
            await _connection.Subscriber.PublishAsync(ChannelOf(request.From), JsonSerializer.SerializeToUtf8Bytes(answer, SocketApiEndpoints.JsonOptions)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            Log.ForwardFailed(_logger, request.Socket, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1020, LogLevel.Warning, "Send to socket {SocketName} not forwarded: no replica holds its lease right now (it is moving).")]
        public static partial void NoOwner(ILogger logger, string socketName);

        [LoggerMessage(1021, LogLevel.Warning, "Send to socket {SocketName} not forwarded: its owner {Owner} does not listen on its channel.")]
        public static partial void OwnerNotListening(ILogger logger, string socketName, string owner);

        [LoggerMessage(1022, LogLevel.Warning, "Send to socket {SocketName} forwarded to {Owner}: no answer within {Bound}.")]
        public static partial void NoAnswer(ILogger logger, string socketName, string owner, TimeSpan bound);

        [LoggerMessage(1023, LogLevel.Error, "Forwarding for socket {SocketName} failed: {Error}")]
        public static partial void ForwardFailed(ILogger logger, string socketName, string error);

        [LoggerMessage(1024, LogLevel.Warning, "Not subscribed to forwarded sends yet: {Error}. Retrying.")]
        public static partial void SubscribeFailed(ILogger logger, string error);

        [LoggerMessage(1025, LogLevel.Warning, "Ignored a malformed forwarded message: {Error}")]
        public static partial void BadMessage(ILogger logger, string error);

        [LoggerMessage(1026, LogLevel.Debug, "Socket {SocketName}: ran a send forwarded by {From}: {Status}.")]
        public static partial void ForwardedSendRun(ILogger logger, string socketName, string from, SendStatus status);

        [LoggerMessage(1027, LogLevel.Error, "Socket {SocketName}: a send forwarded by {From} failed.")]
        public static partial void ForwardedSendFailed(ILogger logger, string socketName, string from, Exception exception);
    }
}

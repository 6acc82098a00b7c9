#!/usr/bin/env escript
%% The Erlang anchor of bench_peer: Erlang/OTP distribution between two nodes
%% on 127.0.0.1, unencrypted, default flags. One process streams N binaries of
%% S bytes to a process on the other node, which counts them; the time runs
%% from the first send to the receiver's answer after the last one (messages
%% between two processes arrive in order). Run through erlang_stream.sh, which
%% starts epmd on loopback and both nodes, and stops them.
%%
%%   escript erlang_stream.escript receiver NODE COOKIE
%%   escript erlang_stream.escript sender NODE COOKIE PEER SIZE COUNT
%%
%% The sender prints one JSON object on stdout.
-mode(compile).

main(["receiver", Node, Cookie]) ->
    start_node(Node, Cookie),
    register(plexus_sink, self()),
    io:format("ready~n"),
    receive_loop(0, 0);
main(["sender", Node, Cookie, Peer, Size, Count]) ->
    start_node(Node, Cookie),
    PeerNode = list_to_atom(Peer),
    pong = wait_for(PeerNode, 100),
    send_stream(PeerNode, list_to_integer(Size), list_to_integer(Count));
main(_) ->
    io:format(standard_error, "usage: see the header of erlang_stream.escript~n", []),
    halt(2).

start_node(Node, Cookie) ->
    ok = application:set_env(kernel, inet_dist_use_interface, {127, 0, 0, 1}),
    {ok, _} = net_kernel:start([list_to_atom(Node), longnames]),
    true = erlang:set_cookie(node(), list_to_atom(Cookie)).

%% The receiver registers its name once it runs: ping until it answers (bounded).
wait_for(_PeerNode, 0) -> pang;
wait_for(PeerNode, Tries) ->
    case net_adm:ping(PeerNode) of
        pong ->
            case rpc:call(PeerNode, erlang, whereis, [plexus_sink]) of
                Pid when is_pid(Pid) -> pong;
                _ -> timer:sleep(50), wait_for(PeerNode, Tries - 1)
            end;
        pang -> timer:sleep(50), wait_for(PeerNode, Tries - 1)
    end.

receive_loop(Messages, Bytes) ->
    receive
        {data, Bin} -> receive_loop(Messages + 1, Bytes + byte_size(Bin));
        {done, From} ->
            %% Returning would halt this node at once, which can drop the answer
            %% before it leaves: stay until the sender's node goes (bounded).
            erlang:monitor_node(node(From), true),
            From ! {received, Messages, Bytes},
            receive {nodedown, _} -> ok after 10000 -> ok end
    after 60000 ->
        io:format(standard_error, "nothing received for 60 s~n", []),
        halt(3)
    end.

send_stream(PeerNode, Size, Count) ->
    Bin = binary:copy(<<7>>, Size),
    Sink = {plexus_sink, PeerNode},
    Sink ! {data, Bin},  % warm the connection up: one message before the clock starts
    Start = erlang:monotonic_time(nanosecond),
    send_n(Sink, Bin, Count - 1),
    Sink ! {done, self()},
    receive
        {received, Messages, Bytes} ->
            Seconds = (erlang:monotonic_time(nanosecond) - Start) / 1.0e9,
            io:format("{\"anchor\": \"erlang_distribution\", \"otp_release\": \"~s\", "
                      "\"payload_bytes\": ~b, \"messages\": ~b, \"bytes\": ~b, \"seconds\": ~.4f, "
                      "\"GB_per_s\": ~.3f, \"msgs_per_s\": ~b}~n",
                      [erlang:system_info(otp_release), Size, Messages, Bytes, Seconds,
                       Bytes / Seconds / 1.0e9, round(Messages / Seconds)]),
            halt(0)
    after 120000 ->
        io:format(standard_error, "no answer from ~s within 120 s~n", [element(2, Sink)]),
        halt(4)
    end.

send_n(_Sink, _Bin, 0) -> ok;
send_n(Sink, Bin, N) -> Sink ! {data, Bin}, send_n(Sink, Bin, N - 1).

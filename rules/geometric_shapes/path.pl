% Purpose: read an SVG path element's commands into the pieces it draws, and join the
%   pieces into one figure: a closed loop or a set of straight pieces. Follows the
%   path data rules of SVG 1.1. A moveto starts a subpath and draws nothing, and a
%   closepath draws a straight line back to the start of the current subpath. A
%   relative command's coordinates are offsets from the current point, and a
%   relative moveto that opens the path counts from the origin. Because a moveto
%   draws nothing, a path that moves to the point it stands at ("L 3,4 M 3,4 L ...")
%   goes on drawing one figure.
% Inputs:
%   moveto(N, Mode, X, Y)      command N is M (Mode absolute) or m (relative) to X,Y.
%   lineto(N, Mode, X, Y)      command N is L or l to X,Y.
%   hlineto(N, Mode, X)        command N is H or h to X.
%   vlineto(N, Mode, Y)        command N is V or v to Y.
%   arc(N, Mode, RX, RY, Rotation, LargeArc, Sweep, X, Y)
%                              command N is A or a: an elliptical arc with radii RX, RY,
%                              its x axis rotated by Rotation degrees, flags LargeArc
%                              and Sweep (0 or 1), ending at X,Y.
%   closepath(N)               command N is Z or z.
%   Coordinates, radii and the rotation are strings holding SVG numbers ("90.54",
%   "-3", ".5", "1e2"). The flags are integers.
% Answer: none directly. shapes.pl names the figure and answers.
% Provenance: written by the reason developers (Claude, a language model) from the
%   SVG 1.1 path rules above and the geometric_shapes questions of the BBH training
%   split, and checked against the teacher annotations in
%   training/records/geometric_shapes.jsonl.

:- dynamic moveto/4, lineto/4, hlineto/3, vlineto/3, arc/9, closepath/1.
:- use_module(library(apply)).
:- use_module(library(lists)).
:- use_module(library(pairs)).

% Read: an SVG number written as text, as a float. Only digits, signs, a point and an
%   exponent are accepted, so Prolog syntax such as 0'c, 0x1F or 1.0Inf never reads as
%   a number. SVG allows ".5", "-.5" and "5.", but Prolog needs a digit on both sides
%   of the point, so a 0 is put in where one is missing.
svg_number(Text, Value) :-
    atom_chars(Text, Chars),
    Chars \= [],
    forall(member(Char, Chars), memberchk(Char, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '-', '.', e, 'E'])),
    signed_chars(Chars, Prolog),
    catch(( number_chars(Number, Prolog), Value is float(Number) ), error(_, _), fail),
    abs(Value) < 1.0e12.

% A sign is kept when it is a minus and dropped when it is a plus. Only one sign
%   may lead, so "+-8" does not read.
signed_chars(['+', Next | Unsigned], Prolog) :- \+ memberchk(Next, ['+', '-']), unsigned_chars([Next | Unsigned], Prolog).
signed_chars(['-', Next | Unsigned], ['-' | Prolog]) :- \+ memberchk(Next, ['+', '-']), unsigned_chars([Next | Unsigned], Prolog).
signed_chars([First | Rest], Prolog) :- First \== '+', First \== '-', unsigned_chars([First | Rest], Prolog).

% A point with no digit before or after it gets a 0 there.
unsigned_chars(Chars, Prolog) :-
    ( Chars = ['.' | _] -> Leading = ['0' | Chars] ; Leading = Chars ),
    (   append(Before, ['.' | After], Leading), ( After = [] ; After = [E | _], memberchk(E, [e, 'E']) )
    ->  append(Before, ['.', '0' | After], Prolog)
    ;   Prolog = Leading
    ).

% Read: each command as a term, numbered by its position N. A command whose numbers
%   do not read (bad syntax, or too large for a float) becomes invalid, which makes
%   the whole path unreadable (step/6 has no clause for it), so no coordinate is
%   ever skipped silently.
command(N, Command) :- moveto(N, Mode, XText, YText),
    ( svg_number(XText, X), svg_number(YText, Y) -> Command = move(Mode, X, Y) ; Command = invalid ).
command(N, Command) :- lineto(N, Mode, XText, YText),
    ( svg_number(XText, X), svg_number(YText, Y) -> Command = line(Mode, X, Y) ; Command = invalid ).
command(N, Command) :- hlineto(N, Mode, XText),
    ( svg_number(XText, X) -> Command = hline(Mode, X) ; Command = invalid ).
command(N, Command) :- vlineto(N, Mode, YText),
    ( svg_number(YText, Y) -> Command = vline(Mode, Y) ; Command = invalid ).
command(N, Command) :- arc(N, Mode, RXText, RYText, RotationText, Large, Sweep, XText, YText),
    (   svg_number(RXText, RX), svg_number(RYText, RY), svg_number(RotationText, Rotation),
        memberchk(Large, [0, 1]), memberchk(Sweep, [0, 1]),
        svg_number(XText, X), svg_number(YText, Y)
    ->  Command = arc(Mode, RX, RY, Rotation, Large, Sweep, X, Y)
    ;   Command = invalid
    ).
command(N, close) :- closepath(N).

% Read: the commands in the order of their positions.
commands(Commands) :-
    findall(N-Command, command(N, Command), Pairs),
    keysort(Pairs, Sorted),
    pairs_values(Sorted, Commands).

% Define: the end point of a command, from the current point for a relative one.
%   Before the first moveto there is no current point (none), so a relative moveto
%   there counts from the origin.
target(absolute, _, X, Y, p(X, Y)).
target(relative, p(X0, Y0), DX, DY, p(X, Y)) :- X is X0 + DX, Y is Y0 + DY.
target(relative, none, DX, DY, p(DX, DY)).

% Define: the pieces one command draws, as piece(Kind, From, To) terms. State is the
%   current point and the start of the current subpath. Lines and arcs need a
%   current point, so a path that draws before its first moveto is unreadable.
step(move(Mode, X, Y), Current, _, Point, Point, []) :- target(Mode, Current, X, Y, Point).
step(line(Mode, X, Y), Current, Start, Point, Start, Pieces) :- Current \= none,
    target(Mode, Current, X, Y, Point), straight(Current, Point, Pieces).
step(hline(Mode, X), p(X0, Y0), Start, Point, Start, Pieces) :-
    target(Mode, p(X0, Y0), X, 0, p(X1, _)), Point = p(X1, Y0), straight(p(X0, Y0), Point, Pieces).
step(vline(Mode, Y), p(X0, Y0), Start, Point, Start, Pieces) :-
    target(Mode, p(X0, Y0), 0, Y, p(_, Y1)), Point = p(X0, Y1), straight(p(X0, Y0), Point, Pieces).
step(arc(Mode, RX, RY, Rotation, Large, Sweep, X, Y), Current, Start, Point, Start, Pieces) :-
    Current \= none, target(Mode, Current, X, Y, Point),
    curved(Current, Point, RX, RY, Rotation, Large, Sweep, Pieces).
step(close, Current, Start, Start, Start, Pieces) :- Current \= none, straight(Current, Start, Pieces).

% Define: the pieces a list of commands draws, in order, from a current point and
%   subpath start.
walk([], _, _, []).
walk([Command | Commands], Current, Start, Pieces) :-
    step(Command, Current, Start, Next, NextStart, Drawn),
    append(Drawn, Rest, Pieces),
    walk(Commands, Next, NextStart, Rest).

% Define: two points are the same when each coordinate differs by at most a millionth
%   of a unit, so float rounding in the sums of relative commands does not open a
%   closed path.
same_point(p(X1, Y1), p(X2, Y2)) :- abs(X1 - X2) =< 1.0e-6, abs(Y1 - Y2) =< 1.0e-6.

% Define: a straight piece. A command that stays at the current point draws nothing.
straight(From, To, []) :- same_point(From, To).
straight(From, To, [piece(line, From, To)]) :- \+ same_point(From, To).

% Define: an arc piece, per the arc notes of SVG 1.1 (appendix F). An arc that ends
%   where it starts draws nothing, an arc with a zero radius is a straight line, and
%   a negative radius counts as its absolute value.
curved(From, To, _, _, _, _, _, []) :- same_point(From, To).
curved(From, To, RX, RY, _, _, _, Pieces) :- \+ same_point(From, To), RX * RY =:= 0,
    straight(From, To, Pieces).
curved(From, To, RX, RY, Rotation, Large, Sweep, [piece(arc(AX, AY, Rotation, Large, Sweep), From, To)]) :-
    \+ same_point(From, To), RX * RY =\= 0, AX is abs(RX), AY is abs(RY).

% Define: a piece turned round, so it runs To to From. An arc turned round sweeps
%   the other way.
reversed(piece(line, From, To), piece(line, To, From)).
reversed(piece(arc(RX, RY, Rotation, Large, Sweep), From, To), piece(arc(RX, RY, Rotation, Large, Back), To, From)) :-
    Back is 1 - Sweep.

% Define: one way of writing each piece, so a piece drawn twice, in either direction,
%   counts once.
canonical(Piece, Piece) :- Piece = piece(_, From, To), From @=< To.
canonical(Piece, Turned) :- Piece = piece(_, From, To), From @> To, reversed(Piece, Turned).

% Define: the distinct pieces the whole path draws.
pieces(Pieces) :-
    commands(Commands),
    walk(Commands, none, none, Drawn),
    maplist(canonical, Drawn, Canonical),
    sort(Canonical, Pieces),
    Pieces \= [].

% Define: a closed loop: the pieces, each turned the right way round and put in order
%   so that each starts where the one before ends and the last ends where the first
%   starts. At every point the loop reaches there must be exactly one piece to go on
%   with, so a figure eight, a loop with a branch or two separate loops is no loop.
loop([First | Others], [First | Ordered]) :-
    First = piece(_, Start, End),
    follow(End, Others, Start, Ordered).

% follow(End, Pieces, Start, Ordered): Ordered continues the loop from End through
%   all of Pieces and closes it at Start.
follow(End, [], Start, []) :- same_point(End, Start).
follow(End, Pieces, Start, [Next | Ordered]) :-
    Pieces \= [], \+ same_point(End, Start),
    findall(Oriented-Rest, leaving(End, Pieces, Oriented, Rest), [Next-Rest]),
    Next = piece(_, _, To),
    follow(To, Rest, Start, Ordered).

% A piece of Pieces that has an end at Point, turned to start there, and the rest.
leaving(Point, Pieces, Oriented, Rest) :-
    select(Piece, Pieces, Rest),
    Piece = piece(_, From, To),
    (   same_point(From, Point) -> Oriented = Piece
    ;   same_point(To, Point) -> reversed(Piece, Oriented)
    ).

% Define: the figure the path draws: loop(Pieces) when its pieces form one closed
%   loop, straight(Pieces) when every piece is a straight line. A closed polygon is
%   both.
figure(loop(Loop)) :- pieces(Pieces), loop(Pieces, Loop).
figure(straight(Pieces)) :- pieces(Pieces), forall(member(Piece, Pieces), Piece = piece(line, _, _)).

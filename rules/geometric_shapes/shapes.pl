% Purpose: name the figure an SVG path draws (path.pl builds it) and answer with the
%   option that names it. Names follow inclusive definitions, so one figure may
%   have several: a square is a rectangle, a rhombus, a kite, a parallelogram and a
%   trapezoid, and a circle is an ellipse.
% Inputs:
%   option(L, Shape)           option L names Shape, one of the constants of
%                              pack.toml (other for a name the pack does not know).
%   The path commands, read by path.pl.
% Answer: answer(L) for the option that names the figure. When several options name
%   it and one name includes another, the more general name is the answer
%   (trapezoid over rectangle, ellipse over circle). This follows the answer key of
%   BBH geometric_shapes: on the training split, every rectangle offered with a
%   trapezoid option is a trapezoid (8 of 8), and every circle offered with an
%   ellipse option is an ellipse (8 of 8). Several answers when two options name the
%   figure and neither name includes the other (kite and trapezoid for a square).
%   No answer for a figure with no name here: an open zigzag, a self-crossing
%   outline, or a closed figure that mixes lines and arcs and is not a sector.
% Limits: curves (C, S, Q, T) have no input, so a path with them gets no answer. A
%   polygon with more than ten corners, and an option named other, are never the
%   answer. NOTE: the shipped student cannot copy a leading minus sign, so it
%   writes -3.5 as "3.5" and can draw another figure; facts written by hand keep
%   the sign. Its options are checked against the question's option texts.
% Provenance: written by the reason developers (Claude, a language model) from plane
%   geometry, SVG 1.1 (the endpoint to centre conversion of arcs in appendix F) and the
%   geometric_shapes questions of the BBH training split, and checked against the
%   teacher annotations in training/records/geometric_shapes.jsonl.

:- dynamic option/2.
:- use_module(library(apply)).
:- use_module(library(lists)).

% Define: the tolerance for comparisons of measured values. Questions give
%   coordinates rounded to a few decimals, so sides of a kite are equal and sides of
%   a rectangle are perpendicular only up to rounding. Two lengths are equal when
%   they differ by at most 2% of the longer. Two directions are parallel or
%   perpendicular when the sine or cosine of the angle between them is at most
%   0.02 (about 1.1 degrees).
tolerance(0.02).

% Define: vectors and their measures.
vector(p(X1, Y1), p(X2, Y2), v(DX, DY)) :- DX is X2 - X1, DY is Y2 - Y1.
norm(v(DX, DY), Length) :- Length is sqrt(DX * DX + DY * DY).
cross(v(A, B), v(C, D), Cross) :- Cross is A * D - B * C.
dot(v(A, B), v(C, D), Dot) :- Dot is A * C + B * D.

% Define: equal lengths, parallel and perpendicular directions within the tolerance.
equal_length(A, B) :- tolerance(T), abs(A - B) =< T * max(A, B).
parallel(U, V) :- tolerance(T), cross(U, V, C), norm(U, LU), norm(V, LV), abs(C) =< T * LU * LV.
perpendicular(U, V) :- tolerance(T), dot(U, V, D), norm(U, LU), norm(V, LV), abs(D) =< T * LU * LV.
side_length(piece(line, From, To), Length) :- vector(From, To, V), norm(V, Length).

% Define: the corners of a closed polygon: the loop's points where the direction
%   turns. A point exactly in line with its neighbours ("L 5,0 L 10,0") is no
%   corner. A point that is in line only up to rounding still counts as a corner,
%   as in the BBH answer key: a training-split heptagon has a corner that turns by
%   0.03 degrees.
corners(Loop, Corners) :-
    maplist(piece_start, Loop, Points),
    Points = [First | _],
    last(Points, Last),
    turning_points([Last | Points], First, Corners).

% The point where a piece starts.
piece_start(piece(_, From, _), From).

% turning_points([Previous, Point | Rest], First, Corners): Point's neighbours are
%   Previous and the head of Rest, or First for the last point of the loop.
turning_points([_], _, []).
turning_points([Previous, Point | Rest], First, Corners) :-
    ( Rest = [Next | _] -> true ; Next = First ),
    (   straight_through(Previous, Point, Next)
    ->  Corners = Others
    ;   Corners = [Point | Others]
    ),
    turning_points([Point | Rest], First, Others).

% The path goes straight through Point when it keeps its direction there, up to
%   float rounding (a sine of at most 1e-9).
straight_through(Previous, Point, Next) :-
    vector(Previous, Point, In), vector(Point, Next, Out),
    cross(In, Out, C), norm(In, LI), norm(Out, LO), abs(C) =< 1.0e-9 * LI * LO,
    dot(In, Out, D), D > 0.

% Define: the sides of a polygon, each from a corner to the next, the last back to
%   the first corner.
sides(Corners, Sides) :-
    Corners = [First | _],
    append(Corners, [First], Closed),
    side_list(Closed, Sides).

% The sides between consecutive points of a list.
side_list([_], []).
side_list([A, B | Rest], [piece(line, A, B) | Sides]) :- side_list([B | Rest], Sides).

% Define: a simple polygon: no two sides meet except neighbours at their common
%   corner. A bow tie ("M 0,0 L 4,4 L 4,0 L 0,4 Z") crosses itself and gets no name.
simple_polygon(Corners) :-
    sides(Corners, Sides),
    length(Sides, Count),
    \+ ( nth1(I, Sides, S1), nth1(J, Sides, S2), I + 1 < J,
         \+ ( I =:= 1, J =:= Count ),
         sides_meet(S1, S2) ).

% Orientation of C seen from the line A to B: the sign of the cross product.
orientation(A, B, C, Sign) :- vector(A, B, U), vector(A, C, V), cross(U, V, Cross), Sign is sign(Cross).

% Two sides meet when each one's ends are not both strictly on one side of the
%   other's line, and their bounding boxes overlap (for sides on one line).
sides_meet(piece(line, A, B), piece(line, C, D)) :-
    orientation(A, B, C, O1), orientation(A, B, D, O2),
    orientation(C, D, A, O3), orientation(C, D, B, O4),
    O1 * O2 =< 0, O3 * O4 =< 0,
    boxes_overlap(A, B, C, D).

% The bounding boxes of the sides AB and CD overlap.
boxes_overlap(p(AX, AY), p(BX, BY), p(CX, CY), p(DX, DY)) :-
    max(AX, BX) >= min(CX, DX), max(CX, DX) >= min(AX, BX),
    max(AY, BY) >= min(CY, DY), max(CY, DY) >= min(AY, BY).

% Define: the name of a simple polygon by its number of corners.
polygon_name(3, triangle).
polygon_name(4, quadrilateral).
polygon_name(5, pentagon).
polygon_name(6, hexagon).
polygon_name(7, heptagon).
polygon_name(8, octagon).
polygon_name(9, nonagon).
polygon_name(10, decagon).

% Define: the special quadrilaterals, from the four sides U1 to U4 in order round the
%   outline. Trapezoid takes the inclusive definition (at least one pair of parallel
%   sides), and kite means two pairs of equal neighbouring sides. The second clause
%   of each name holds only where the first fails, so each name is derived once.
quadrilateral_name([U1, _, U3, _], _, trapezoid) :- parallel(U1, U3).
quadrilateral_name([U1, U2, U3, U4], _, trapezoid) :- parallel(U2, U4), \+ parallel(U1, U3).
quadrilateral_name([U1, U2, U3, U4], _, parallelogram) :- parallel(U1, U3), parallel(U2, U4).
quadrilateral_name([U1, U2, U3, U4], _, rectangle) :-
    perpendicular(U1, U2), perpendicular(U2, U3), perpendicular(U3, U4), perpendicular(U4, U1).
quadrilateral_name(_, [L1, L2, L3, L4], rhombus) :- equal_length(L1, L2), equal_length(L2, L3), equal_length(L3, L4).
quadrilateral_name(Vectors, Lengths, square) :-
    quadrilateral_name(Vectors, Lengths, rectangle), quadrilateral_name(Vectors, Lengths, rhombus).
quadrilateral_name(_, [L1, L2, L3, L4], kite) :- equal_length(L1, L2), equal_length(L3, L4).
quadrilateral_name(_, [L1, L2, L3, L4], kite) :- equal_length(L2, L3), equal_length(L4, L1),
    \+ ( equal_length(L1, L2), equal_length(L3, L4) ).

% The vector from a side's start to its end.
side_vector(piece(line, From, To), Vector) :- vector(From, To, Vector).

% Define: the centre, radii and swept angle (degrees, positive for sweep flag 1) of an
%   arc piece, by the endpoint to centre conversion of SVG 1.1 (appendix F). Radii
%   too small to reach from one end to the other are scaled up until they do, as
%   that appendix says.
arc_centre(piece(arc(RX0, RY0, Rotation, Large, Sweep), p(X1, Y1), p(X2, Y2)), p(CX, CY), RX, RY, Swept) :-
    Phi is Rotation * pi / 180,
    MX is cos(Phi) * (X1 - X2) / 2 + sin(Phi) * (Y1 - Y2) / 2,
    MY is -sin(Phi) * (X1 - X2) / 2 + cos(Phi) * (Y1 - Y2) / 2,
    Lambda is MX * MX / (RX0 * RX0) + MY * MY / (RY0 * RY0),
    Scale is max(1.0, sqrt(Lambda)),
    RX is RX0 * Scale, RY is RY0 * Scale,
    Numerator is RX * RX * RY * RY - RX * RX * MY * MY - RY * RY * MX * MX,
    Denominator is RX * RX * MY * MY + RY * RY * MX * MX,
    Root is sqrt(max(0.0, Numerator / Denominator)),
    ( Large =:= Sweep -> Coefficient is -Root ; Coefficient is Root ),
    CXP is Coefficient * RX * MY / RY,
    CYP is -Coefficient * RY * MX / RX,
    CX is cos(Phi) * CXP - sin(Phi) * CYP + (X1 + X2) / 2,
    CY is sin(Phi) * CXP + cos(Phi) * CYP + (Y1 + Y2) / 2,
    StartAngle is atan2((MY - CYP) / RY, (MX - CXP) / RX),
    EndAngle is atan2((-MY - CYP) / RY, (-MX - CXP) / RX),
    Turn is (EndAngle - StartAngle) * 180 / pi,
    swept(Sweep, Turn, Swept).

% The swept angle runs from the start angle in the direction the sweep flag gives.
swept(1, Turn, Swept) :- ( Turn < 0 -> Swept is Turn + 360 ; Swept = Turn ).
swept(0, Turn, Swept) :- ( Turn > 0 -> Swept is Turn - 360 ; Swept = Turn ).

% Define: a point lies on an arc's ellipse: turned into the ellipse's axes, its
%   distance from the centre, in units of the radii, is 1 within 2%.
on_ellipse(arc(p(CX, CY), RX, RY, Rotation), p(X, Y)) :-
    Phi is Rotation * pi / 180,
    U is cos(Phi) * (X - CX) + sin(Phi) * (Y - CY),
    V is -sin(Phi) * (X - CX) + cos(Phi) * (Y - CY),
    tolerance(T), abs(sqrt((U / RX) ** 2 + (V / RY) ** 2) - 1) =< T.

% An arc piece as arc(Centre, RX, RY, Rotation), with its swept angle.
arc_measures(Piece, arc(Centre, RX, RY, Rotation), Swept) :-
    Piece = piece(arc(_, _, Rotation, _, _), _, _),
    arc_centre(Piece, Centre, RX, RY, Swept).

% Define: a whole ellipse: a closed loop of arcs that all have the same radii and,
%   unless the radii are equal, the same rotation within 1 degree. Their end points
%   lie on the first arc's ellipse, and they all sweep the same way and together go
%   once round (within 7.2 degrees, 2% of a turn). The centres are not compared
%   directly, because when an arc's ends are nearly a diameter apart, rounding the
%   ends moves its centre by several per cent of the radius.
whole_ellipse(Loop, RX, RY) :-
    forall(member(Piece, Loop), Piece = piece(arc(_, _, _, _, _), _, _)),
    maplist(arc_measures, Loop, Arcs, Angles),
    Arcs = [First | _], First = arc(_, RX, RY, Rotation),
    forall(member(arc(_, RX2, RY2, Rotation2), Arcs),
           ( equal_length(RX, RX2), equal_length(RY, RY2),
             ( equal_length(RX, RY) -> true ; abs(Rotation - Rotation2) =< 1 ) )),
    forall(member(piece(_, From, _), Loop), on_ellipse(First, From)),
    ( forall(member(A, Angles), A > 0) ; forall(member(A, Angles), A < 0) ),
    sum_list(Angles, Total),
    tolerance(T), abs(abs(Total) - 360) =< T * 360.

% Define: a circular sector: a closed loop of two straight radii and one circular arc
%   from P to Q. Both radii are as long as the arc's radius, so their common end
%   (the apex) is the centre of a circle of that radius through P and Q. The apex
%   must lie on the same side of the chord PQ as the centre the arc's flags choose,
%   unless it lies on the chord and the sector is a half disc.
sector(Loop) :-
    select(Arc, Loop, [Radius1, Radius2]),
    Arc = piece(arc(_, _, _, _, _), P, Q),
    Radius1 = piece(line, _, _), Radius2 = piece(line, _, _),
    member(piece(line, Apex, _), [Radius1, Radius2]),
    \+ same_point(Apex, P), \+ same_point(Apex, Q),
    arc_centre(Arc, Centre, RX, RY, _),
    equal_length(RX, RY),
    vector(Apex, P, AP), norm(AP, LP), equal_length(LP, RX),
    vector(Apex, Q, AQ), norm(AQ, LQ), equal_length(LQ, RX),
    vector(P, Q, Chord), vector(P, Apex, PA), vector(P, Centre, PC),
    (   parallel(Chord, PA)
    ->  true
    ;   cross(Chord, PA, C1), cross(Chord, PC, C2), C1 * C2 > 0
    ).

% Define: a straight segment: straight pieces that all lie on one line and join up
%   without a gap, measured as intervals along the line's direction.
segment_drawn(Pieces) :-
    Pieces = [piece(line, Origin, Towards) | _],
    vector(Origin, Towards, Direction),
    forall(( member(piece(line, From, To), Pieces), member(Point, [From, To]) ),
           ( vector(Origin, Point, V), parallel_or_zero(Direction, V) )),
    maplist(interval(Origin, Direction), Pieces, Intervals),
    keysort(Intervals, [_-End0 | Sorted]),
    gapless(Sorted, End0).

% A point lies on the line through Origin when its offset V is zero or parallel to it.
parallel_or_zero(_, V) :- norm(V, 0.0).
parallel_or_zero(Direction, V) :- norm(V, Length), Length > 0.0, parallel(Direction, V).

% The interval a piece covers, as positions along Direction from Origin.
interval(Origin, Direction, piece(line, From, To), Low-High) :-
    vector(Origin, From, VF), vector(Origin, To, VT),
    dot(Direction, VF, A), dot(Direction, VT, B),
    Low is min(A, B), High is max(A, B).

% Sorted intervals join up when each starts at or before the end reached so far.
gapless([], _).
gapless([Low-High | Rest], End) :- Low =< End + 1.0e-6, Next is max(End, High), gapless(Rest, Next).

% Define: every name of the figure the path draws.
named(straight(Pieces), line) :- segment_drawn(Pieces).
named(loop(Loop), Name) :-
    forall(member(Piece, Loop), Piece = piece(line, _, _)),
    corners(Loop, Corners), length(Corners, Count), Count >= 3,
    simple_polygon(Corners),
    (   polygon_name(Count, Name)
    ;   Count =:= 4,
        sides(Corners, Sides), maplist(side_vector, Sides, Vectors), maplist(side_length, Sides, Lengths),
        quadrilateral_name(Vectors, Lengths, Name)
    ).
named(loop(Loop), ellipse) :- whole_ellipse(Loop, _, _).
named(loop(Loop), circle) :- whole_ellipse(Loop, RX, RY), equal_length(RX, RY).
named(loop(Loop), sector) :- sector(Loop).

% Define: includes(General, Special): every Special shape is also a General one.
includes(ellipse, circle).
includes(quadrilateral, trapezoid).
includes(quadrilateral, kite).
includes(trapezoid, parallelogram).
includes(parallelogram, rectangle).
includes(parallelogram, rhombus).
includes(rectangle, square).
includes(rhombus, square).
includes(kite, rhombus).

% more_general(General, Special): includes/2, followed through any number of steps.
more_general(General, Special) :- includes(General, Special).
more_general(General, Special) :- includes(General, Middle), more_general(Middle, Special).

% Answer: the options that name the figure, less any whose name a more general
%   option's name includes.
fits(Figure, L, Shape) :- option(L, Shape), named(Figure, Shape).
answer(L) :-
    figure(Figure),
    fits(Figure, L, Shape),
    \+ ( fits(Figure, _, Other), more_general(Other, Shape) ).

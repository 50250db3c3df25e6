% A proof-tree meta-interpreter for reason's Prolog packs.
%
% explain(+Module, +Goal, -Nodes) proves Goal in Module and lists the proof as
% [Id, Parent, Text, File, Line, Clause] lists: Text is the proved goal,
% File and Line locate the clause used (the atoms 'fact' and 0 for an asserted
% input fact, 'builtin' and 0 for a built-in or library goal), Clause is the
% clause as source text. Node 1 is Goal itself, with parent 0.

:- module(reason_prove, [explain/3]).

explain(Module, Goal, Nodes) :-
    prove(Module, Goal, Tree),
    !,
    nb_setval(reason_prove_id, 0),
    flatten(Tree, 0, Nodes, []).

% prove(+Module, +Goal, -Tree): Tree is proof(Goal, Where, Clause, Children).
prove(_, true, []) :- !.
prove(Module, (A, B), Proofs) :-
    !,
    prove(Module, A, First),
    prove(Module, B, Second),
    append(First, Second, Proofs).
prove(Module, \+ Goal, [proof(\+ Goal, builtin, '', [])]) :-
    !,
    \+ Module:Goal.
prove(Module, Goal, [proof(Goal, builtin, '', [])]) :-
    ( predicate_property(Module:Goal, built_in)
    ; predicate_property(Module:Goal, imported_from(_))
    ),
    !,
    call(Module:Goal).
prove(Module, Goal, [proof(Goal, Where, Text, Children)]) :-
    clause(Module:Goal, Body, Reference),
    where(Reference, Where),
    clause_text(Reference, Text),
    prove(Module, Body, Children).

where(Reference, file(File, Line)) :-
    clause_property(Reference, file(File)),
    clause_property(Reference, line_count(Line)),
    !.
where(_, fact).

% clause_text(+Reference, -Text): the clause as written, variables named A, B, ...
clause_text(Reference, Text) :-
    clause(Qualified, Body, Reference),
    strip_module(Qualified, _, Head),
    copy_term((Head :- Body), Copy),
    numbervars(Copy, 0, _),
    (   Copy = (H :- true)
    ->  format(string(Text), "~W.", [H, [quoted(true), numbervars(true)]])
    ;   format(string(Text), "~W.", [Copy, [quoted(true), numbervars(true), portray(true)]])
    ).

flatten([], _, Nodes, Nodes).
flatten([proof(Goal, Where, Text, Children) | Rest], Parent, [[Id, Parent, GoalText, File, Line, Text] | Nodes], Tail) :-
    nb_getval(reason_prove_id, Last),
    Id is Last + 1,
    nb_setval(reason_prove_id, Id),
    format(string(GoalText), "~q", [Goal]),
    location(Where, File, Line),
    flatten(Children, Id, Nodes, Middle),
    flatten(Rest, Parent, Middle, Tail).

location(file(File, Line), File, Line).
location(fact, fact, 0).
location(builtin, builtin, 0).

"""The everyday words that say a plan or a fact changed, in the languages users mix with English: "la cita se
canceló", "die Feier ist abgesagt", "o almoço foi remarcado", "перенесли на пятницу", "改咗 20號".

``cues.py`` (the change cues of English) reads these as two regex sources with their own word boundaries:
``CHANGE_WORDS`` (a change said outright: cancelled, moved, postponed, changed, instead, no longer, a correction)
and ``WEAK_CHANGE_WORDS`` ("now", "new", "it turns out", "wrong": a change only together with words the two passages
share, like English "now"). A hand-written table of each language's everyday words for these (base forms:
infinitive, participle, noun); ``inflections.pattern`` reads each word of a language with a Snowball stemmer in its
inflected forms too ("cancelar": "canceló", "cancelaron", "cancelada"), so a verb needs one line, not its
conjugation. Words of scripts without spaces (Chinese, Japanese) are read without boundaries; Korean words take a
particle after them ("취소됐어") and are read from their start.

Precision: a word marked "=" is read as written only (its stem and an ending would spell an English word:
French "reporter" -> "report", Portuguese "alterar" -> "alter"; checked by the unit test). Words that are common
English words or mean something else in their own language too often ("pasar", "mejor", "plus", "ya", "ora") are
left out; a phrase stands for a word that alone is ambiguous ("ya no", "nicht mehr", "hindi na").
"""

from __future__ import annotations

import re

from voice_letta.agent.recall.inflections import pattern, trie

__all__ = ["CHANGE_WORDS", "WEAK_CHANGE_WORDS", "words_of"]

# concept: "<lang> word, word; <lang> …" ("+" before a line: a weak concept). Verbs by infinitive and participle.
_TABLE = """
cancelled: es cancelar, cancelado, anular, anulado, =suspendido, =suspendida, =suspendieron, =suspendió;
    fr annuler, annulé, =annulation; pt cancelar, cancelado, desmarcar, desmarcado; it annullare,
    annullato, cancellare, cancellato, disdire, disdetto; de absagen, abgesagt, stornieren, storniert,
    ausgefallen, fällt aus, findet nicht statt; nl annuleren, geannuleerd, afzeggen, afgezegd, gaat niet
    door; pl odwołać, odwołany, anulować, anulowany; tr iptal; ru отменить, отменили, отменён, отмена;
    uk скасувати, скасували, скасовано, скасована; sw imefutwa, kufuta; tl kinansela, kanselado, hindi
    na tuloy, hindi matutuloy; zh 取消; ja キャンセル, 中止; ko 취소; vi hủy
changed: es cambiar, cambiado, cambio, reprogramar, reprogramado, trasladar, trasladado, movieron,
    movió, movido; fr changer, changé, changement, déplacer, déplacé, décaler, décalé, reprogrammer,
    reprogrammé, modifier, modifié; pt mudar, mudou, mudança, remarcar, remarcado, trocar, trocou,
    =alterado, =alterada, =alteraram, =alterou, =transferido, =transferida; it cambiare, cambiato,
    spostare, spostato, modificare, modificato; de ändern, geändert, änderung, verlegen, verlegt,
    umgebucht, umbuchen; nl veranderen, veranderd, verplaatsen, verplaatst, verzetten, gewijzigd,
    wijziging; pl zmienić, zmieniony, zmiana, przenieść, przeniesiony, przesunąć, przesunięty; tr
    değişti, değiştirdi, değişiklik; ru изменить, изменили, изменение, перенести, перенесли, перенесено,
    поменяли; uk змінити, змінили, зміна, перенесли, перенесено; sw imebadilishwa, kubadilisha,
    mabadiliko, imehamishwa; tl binago, pinalitan, inilipat, inusog, nausog; hi badal gaya, badal gayi,
    badal diya, badli; zh 改咗, 改了, 改成, 改到, 改期, 改為, 改为, 更改, 換成, 换成; ja 変更;
    ko 변경; vi thay đổi, dời lịch
postponed: es aplazar, aplazado, posponer, pospuesto, postergar, postergado; fr =reporté, =reportée,
    =reportés, =reportées, repousser, repoussé; pt adiar, adiado; it rinviare, rinviato, rimandare,
    rimandato, posticipare, posticipato; de verschieben, verschoben, vertagt; nl uitstellen, uitgesteld;
    pl przełożyć, przełożony, odłożyć, odłożony; tr ertelemek, ertelendi; ru отложить, отложили; uk
    відкласти, відклали; sw kuahirisha, imeahirishwa; tl ipinagpaliban, iniurong; zh 延期, 推遲, 推迟, 押後, 押后;
    ja 延期; vi hoãn
instead: es en vez de, en lugar de; fr au lieu de, à la place; pt em vez de, ao invés de, no lugar de;
    it invece, al posto di; de stattdessen, anstatt, anstelle; nl in plaats van, in plaats daarvan; pl
    zamiast; tr yerine; ru вместо; uk замість; sw badala ya; tl na lang, sa halip; hi ki jagah, ke
    bajaye; zh 代替, 改為, 改为; ko 대신; vi thay vì
no longer: es ya no; fr n'est plus, ne sont plus; pt já não, não é mais, não vai mais; it non è più, non
    più; de nicht mehr; nl niet meer; pl już nie; tr artık; ru больше не, уже не; uk більше не, вже не;
    tl hindi na; hi ab nahi; zh 不再; vi không còn
correction: es =corrección, me equivoqué, error mío; fr =correction, je me suis trompé, je me suis
    trompée; pt =correção, =errata, me enganei, errei; it =correzione, mi sono sbagliato, mi sono
    sbagliata; de korrektur, berichtigung, ich meinte, verwechselt; nl =correctie, ik bedoelde,
    vergissing; pl korekta, sprostowanie, pomyłka, pomyliłem, pomyliłam; tr düzeltme; ru исправление, я
    ошибся, я ошиблась; uk виправлення, я помилився, я помилилася; sw marekebisho, nimekosea; hi galti
    se; zh 更正, 搞錯, 搞错, 講錯, 讲错; ja 訂正; ko 정정; vi nhầm, sửa lại
+now: es ahora, ahorita; fr =maintenant, désormais; pt agora; it adesso; de jetzt; nl nu; pl teraz; tr
    şimdi; ru сейчас, теперь; uk зараз, тепер; sw sasa; tl ngayon; hi abhi; zh 而家, 現在, 现在; vi bây giờ
+new: es nuevo, nueva; fr nouveau, nouvelle; pt novo, nova; it nuovo, nuova; de neu, neue, neuer, neues;
    nl nieuw, nieuwe; pl nowy, nowa, nowe; tr yeni; ru новый, новая, новое; uk новий, нова, нове; sw
    mpya; hi naya, nayi; zh 新
+wrong: es equivocado, equivocada; fr erreur; pt errado, errada, engano; it sbagliato, sbagliata,
    =errore; de falsch; nl fout; pl błąd, źle; tr yanlış; ru ошибка, неправильно; uk помилка; sw kosa;
    tl mali, pala; hi galat; zh 唔係, 不是
"""

# scripts written without spaces between words: no boundary can be asked around their words
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")


def words_of(weak: bool) -> dict[str, list[str]]:
    """The table's words of the strong (or weak) concepts, by language code."""
    out: dict[str, list[str]] = {}
    for entry in re.split(r"\n(?=\S)", _TABLE.strip()):
        concept, _, rest = entry.partition(":")
        if concept.startswith("+") != weak:
            continue
        for chunk in " ".join(rest.split()).split(";"):
            code, _, words = chunk.strip().partition(" ")
            out.setdefault(code, []).extend(w.strip().lower() for w in words.split(",") if w.strip())
    return out


def _source(weak: bool) -> str:
    spaced, unspaced, hangul = [], [], []
    for code, words in words_of(weak).items():
        said = [w for w in words if not _UNSPACED.search(w) and not _HANGUL.search(w)]
        unspaced += [w for w in words if _UNSPACED.search(w)]
        hangul += [w for w in words if _HANGUL.search(w)]
        if said:
            spaced.append(pattern(said, code))
    parts = [r"(?<![\w'-])(?:" + "|".join(spaced) + r")(?![\w'-])"]
    if unspaced:
        parts.append("(?:" + trie(unspaced) + ")")
    if hangul:
        parts.append(r"(?<!\w)(?:" + trie(hangul) + ")")
    return "(?:" + "|".join(parts) + ")"


CHANGE_WORDS = _source(weak=False)
WEAK_CHANGE_WORDS = _source(weak=True)

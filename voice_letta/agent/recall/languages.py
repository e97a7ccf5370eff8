"""Everyday words of the languages users mix with English, as English: "cita con el dentista", "rendez-vous chez le
kiné", "dawai le li", "Termin beim Arzt", "lola's despedida".

The vector half is an English MiniLM: it places "cita" nowhere near "appointment", so a question asked in English
about a fact said in Spanish (or the other way round) was found only when the two shared another word. This is a
small hand-written table (not learned from any benchmark's words) of the kinds of things a memory question asks
about — kin, appointments, doctors and medicines, transport and travel, money, home and rooms, work and school, food
and meals, events, days, months, numbers, and what happens to a plan (cancelled, moved, postponed) — in Spanish (es),
French (fr), Portuguese (pt), Italian (it), German (de), Tagalog (tl) and romanised Hindi-Urdu (hi). ``synonyms.py``
merges each line into its group of the same English word, so it works both ways: an English question's keyword half
adds the other languages' words, and a question that says one of them adds the English word (and its vector half
reads the English word in its place). Days, months and "yesterday"/"last week" are also read as a window
(``foreign_times.english_times``, for ``timewords.py``).

Precision: a word that is a common English word in its own right ("once" = eleven, "red" = network, "den", "son",
"do", "teen", "char", "das", "due", "elf", "ate", "bad", "camera", "pot", "car", "taller") is left out: it would
match English lines. A word that also means something else in its own language ("seguro" = insurance and sure,
"tarde" = afternoon and late) is a keyword extra (``+``): added when its group is asked, never the start of one.
Accents are optional in what people type: each accented word also stands for its plain spelling.
"""

from __future__ import annotations

import re
import unicodedata

from voice_letta.agent.recall import text as T
from voice_letta.agent.recall.inflections import LANGUAGES, trie

__all__ = ["GROUPS", "HERITAGE_KIN", "INFLECTING", "trie"]

# english word(s), "|" between: then ";"-separated chunks "<lang> word, word, ..." ("+word": keyword extra only).
# A line starting with ">" is one way: the other languages' words add the English word, not the reverse (numbers:
# "two" in an English question adds no "dos", "deux", "zwei").
_TABLE = """
mother: fr mère, maman; de mutter; hi mataji
father: fr père; it papà; de vater; hi pitaji, abbu
brother: fr frère; it fratello; de bruder
sister: fr sœur, soeur; it sorella; de schwester
son: fr fils; it figlio; de sohn
daughter: fr fille; it figlia; de tochter
children: fr enfants, gosses; it bambini, figli; tl anak, mga anak
grandmother: fr mémé; de großmutter
grandfather: fr pépé; de großvater
uncle: fr oncle; pt tio
partner: fr épouse, époux, copain, copine; it marito, moglie, fidanzato, fidanzata; de ehemann, ehefrau,
    freundin; pt esposo; +frau
mother-in-law: fr belle-mère; it suocera; de schwiegermutter; pt sogra
father-in-law: it suocero; de schwiegervater
friend: fr ami, amie, pote; it amica; de freund; pt amigo, amiga
neighbour: fr voisin, voisine; it vicino, vicina; de nachbar, nachbarin; tl kapitbahay; hi padosi, padosan
appointment: es cita, citas, consulta, +turno; fr rendez-vous, rdv; pt marcação; it appuntamento; de termin;
    tl tipanan
doctor: fr médecin, docteur; pt doutor; it medico, dottore, dottoressa; de arzt, ärztin, hausarzt; tl duktor;
    hi daktar
dentist: es dentista; fr dentiste; de zahnarzt, zahnärztin
physio: es fisio, fisioterapeuta; fr kiné, kinésithérapeute, kinésithérapie; pt fisioterapeuta, fisioterapia;
    it fisioterapista, fisioterapia; de physiotherapeut, krankengymnastik
plumber: es fontanero, plomero; fr plombier; pt encanador, canalizador; it idraulico; de klempner, installateur;
    tl tubero
electrician: es electricista; fr électricien; pt eletricista; it elettricista; de elektriker
nurse: es enfermera, enfermero; fr infirmière, infirmier; pt enfermeira; it infermiera; de krankenschwester,
    pflegerin; tl nars
hospital: es clínica; fr hôpital, clinique; it ospedale; de krankenhaus, klinik; tl ospital; hi aspatal
medication: es medicamento, medicamentos, pastillas, pastilla, remedio; fr médicament, médicaments, cachets,
    comprimés; pt remédio, remédios, comprimidos; it farmaco, farmaci, pillole, pastiglie; de medikament,
    medikamente, tabletten; hi goli, goliyan
pharmacy: es farmacia, droguería; fr pharmacie; pt farmácia; de apotheke; tl botika
vaccine: vaccination | jab; es vacuna; fr vaccin; pt vacina; it vaccino; de impfung; tl bakuna; hi teeka, tika
sick: es enfermo, enferma; fr malade; pt doente; it malato, malata; de krank; tl may sakit, +sakit; hi bimar, beemar
insurance: es aseguradora; fr mutuelle, assurance; pt seguradora; it assicurazione; de versicherung, krankenkasse;
    +seguro
car: es carro, coche; fr voiture, bagnole; it macchina; tl kotse; hi gaadi, gaari
mechanic: es mecánico; fr garagiste, mécanicien; pt mecânico; it meccanico,
    officina; de mechaniker, werkstatt; tl mekaniko, talyer
train: es tren; pt trem, comboio; it treno; de zug; tl tren; hi railgaadi
bus: es autobús, guagua; fr autobus; pt ônibus, autocarro; tl dyip, jeepney
flight: es vuelo, vuelos, avión; fr avion; pt voo, avião; it volo, aereo; de flug, flugzeug; tl eroplano;
    hi hawai jahaz; +vol
airport: es aeropuerto; fr aéroport; pt aeroporto; it aeroporto; de flughafen; tl paliparan
station: es estación; fr gare; pt estação; it stazione; de bahnhof; tl istasyon
ticket | tickets: es boleto, boletos, billete, billetes, pasaje; fr billet, billets; pt bilhete, passagem;
    it biglietto, biglietti; de fahrkarte; tl tiket
trip: es viaje; pt viagem; it viaggio; de reise; tl biyahe; hi safar, yatra
holiday: fr vacances; pt férias; it vacanze, ferie; de urlaub, ferien
money: fr argent, fric; pt dinheiro, grana; it soldi; de geld
rent: es alquiler, arriendo, renta; fr loyer; pt aluguel, aluguer; it affitto; de miete; tl upa; hi kiraya, bhada
bill | invoice: es factura, recibo; fr facture; pt fatura, conta; it bolletta, fattura; de rechnung; tl bayarin
payment: es pago, pagué; fr paiement, payé; pt pagamento, paguei; it pagamento, pagato; de zahlung,
    bezahlt; tl bayad, binayaran
bank: es banco; fr banque; it banca; tl bangko
salary: es salario; fr salaire; it stipendio; de gehalt, lohn; hi vetan
price: es precio, costo, cuesta; fr prix, coûte; pt preço, custo, custa; it prezzo; de preis,
    kosten, kostet; tl presyo, halaga; hi daam, keemat, kimat
budget: es presupuesto; pt orçamento
gift | present | presents: es regalo, regalos; fr cadeau, cadeaux; it regali; de geschenk, geschenke; tl regalo,
    pasalubong; hi tohfa, uphaar
secret santa: gift exchange; es amigo secreto, amigo invisible; fr père noël secret; pt amigo oculto; de wichteln;
    tl monito monita, kris kringle
home: es hogar; fr maison, chez moi; pt lar; de zuhause, daheim; +haus
apartment: es apartamento, departamento, depa; fr appartement, appart; it appartamento; de wohnung
room: es habitación, cuarto; pt quarto; de zimmer; tl kwarto; hi kamra
bedroom: es dormitorio, recámara; fr chambre; de schlafzimmer
kitchen: es cocina; pt cozinha; it cucina; de küche; tl kusina; hi rasoi
bathroom: es baño; fr salle de bain, salle de bains; pt banheiro, casa de banho; it bagno; de badezimmer; tl banyo
garden: es jardín; fr jardin; pt jardim; it giardino; de garten; tl hardin; hi bagicha
water heater: hot-water tank | hot water tank | hot-water cylinder | hot water cylinder; +geyser; es calentador,
    termotanque; fr chauffe-eau, cumulus; pt aquecedor; it scaldabagno; de warmwasserspeicher, durchlauferhitzer
landlord: es arrendador, +casero, +casera; fr propriétaire, proprio; pt senhorio; de vermieter, vermieterin;
    hi makan malik
key | keys: es llave, llaves; fr clé, clés, clef; pt chave, chaves; it chiave, chiavi; de schlüssel; tl susi;
    hi chabi, chaabi
move house | moving house | moved house: es mudanza; fr déménagement, déménager, déménagé; pt mudança; it trasloco;
    de umzug
electricity: es electricidad; fr électricité; pt eletricidade; it elettricità; de strom; tl kuryente; hi bijli
water: es agua; fr eau; pt água; it acqua; de wasser; tl tubig; hi paani, pani
job: es empleo, chamba, curro; fr boulot, travail, emploi, taf; pt emprego, trampo; it lavoro; de arbeit
office: es oficina; fr bureau; pt escritório; it ufficio; de büro; tl opisina; hi daftar
colleague: es colega; fr collègue; pt colega; it collega; de kollege, kollegin; tl katrabaho
meeting: es reunión, junta; fr réunion; pt reunião; it riunione; de besprechung, sitzung; tl pulong; hi baithak
school: es escuela, colegio; fr école, lycée; pt escola; it scuola; de schule; tl paaralan, eskwela, eskwelahan
university: es universidad, facultad; fr fac, université; pt faculdade, universidade; it università
exam: es examen; fr examen, partiel; pt exame, prova; it esame; de prüfung, klausur; tl pagsusulit;
    hi pariksha, imtihan
teacher: es profesor, profesora, maestra; fr professeur, prof, maîtresse, instituteur; pt professora;
    it insegnante; de lehrer, lehrerin; tl guro, titser
homework: es tarea, tareas, deberes; fr devoirs; it compiti; de hausaufgaben; tl takdang-aralin
nursery: es guardería; fr crèche, garderie
breakfast: es desayuno; fr petit-déjeuner, petit déjeuner, petit déj; pt café da manhã, pequeno-almoço;
    it colazione; de frühstück; tl almusal; hi nashta
lunch: es almuerzo; fr déjeuner; pt almoço; it pranzo; de mittagessen; tl tanghalian
dinner | supper: es cena; fr dîner; pt jantar; it cena; de abendessen; tl hapunan; hi raat ka khana
food: fr nourriture, bouffe; it cibo
restaurant: es restaurante; fr resto; pt restaurante; it ristorante; tl restawran, kainan; hi dhaba
groceries: es mandado, despensa; it spesa; de einkauf, einkaufen; hi sabzi, rashan
cake: es tarta, torta; fr gâteau; pt bolo; it torta; de kuchen, torte; tl keyk
party: es fiesta; fr fête, soirée; pt festa; it festa; de feier; tl handaan, salu-salo; hi jalsa
farewell: leaving do | leaving drinks | leaving party | farewell drinks | farewell party | sendoff;
    es despedida; fr pot de départ, soirée d'adieu; pt despedida; it festa di addio; de abschiedsfeier, abschied;
    tl despedida
birthday: fr anniv; it compleanno; de geburtstag; +anniversaire
wedding: fr mariage, noces; it nozze
christmas: xmas; es navidad; fr noël; pt natal; it natale; de weihnachten; tl pasko
new year: new year's | new years; es año nuevo; fr nouvel an, réveillon; pt ano novo, réveillon; it capodanno;
    de silvester, neujahr; tl bagong taon
easter: es semana santa, pascua; fr pâques; pt páscoa; it pasqua; de ostern
funeral: es entierro, funeral; fr enterrement, obsèques, funérailles; pt enterro; it funerale; de beerdigung;
    tl libing
graduation: es graduación; pt formatura; it laurea; de abschlussfeier; tl pagtatapos
visit: es visita; fr visite; pt visita; it visita; de besuch; tl bisita, dalaw
cancelled | canceled: es cancelado, cancelada, canceló, cancelaron, anulado; fr annulé, annulée; pt cancelado,
    cancelada, cancelou; it annullato, annullata, cancellato, cancellata; de abgesagt, storniert; tl kinansela
postponed: es aplazado, aplazada, pospuesto, pospuesta; fr reporté, reportée, repoussé; pt adiado, adiada;
    it rinviato, rinviata, rimandato; de verschoben; tl ipinagpaliban
moved | rescheduled: es movieron, movió, cambiaron, reprogramado, reprogramada; fr déplacé, déplacée, décalé,
    décalée; pt remarcado, remarcada, mudaram; it spostato, spostata; de verlegt; tl inilipat
monday: es lunes; fr lundi; pt segunda-feira; it lunedì; de montag; tl lunes; hi somvar, somwar
tuesday: es martes; fr mardi; pt terça-feira, terça; it martedì; de dienstag; tl martes; hi mangalvar, mangalwar
wednesday: es miércoles; fr mercredi; pt quarta-feira; it mercoledì; de mittwoch; tl miyerkules; hi budhvar,
    budhwar
thursday: es jueves; fr jeudi; pt quinta-feira; it giovedì; de donnerstag; tl huwebes; hi guruvar, jumeraat
friday: es viernes; fr vendredi; pt sexta-feira, sexta; it venerdì; de freitag; tl biyernes; hi shukravar,
    jumma
saturday: es sábado; fr samedi; pt sábado; it sabato; de samstag; tl sabado; hi shanivar, shaniwar
sunday: es domingo; fr dimanche; pt domingo; it domenica; de sonntag; tl linggo; hi ravivar, itwar, itvaar
january: es enero; fr janvier; pt janeiro; it gennaio; de januar; tl enero
february: es febrero; fr février; pt fevereiro; it febbraio; de februar; tl pebrero
march: es marzo; pt março; it marzo; de märz; tl marso
april: es abril; fr avril; pt abril; it aprile; tl abril
may: pt maio; it maggio
june: es junio; fr juin; pt junho; it giugno; de juni; tl hunyo
july: es julio; fr juillet; pt julho; it luglio; de juli; tl hulyo
august: es agosto; fr août; pt agosto; it agosto; tl agosto
september: es septiembre, setiembre; fr septembre; pt setembro; it settembre; tl setyembre
october: es octubre; fr octobre; pt outubro; it ottobre; de oktober; tl oktubre
november: es noviembre; fr novembre; pt novembro; it novembre; tl nobyembre
december: es diciembre; fr décembre; pt dezembro; it dicembre; de dezember; tl disyembre
morning: es +mañana; fr matin, matinée; pt manhã; it mattina, mattino; tl umaga; hi subah
afternoon: it pomeriggio; de nachmittag; tl hapon; hi dopahar; +tarde
evening: fr soir; de abend; hi shaam; +noche
night: es noche; fr nuit; pt noite; it notte; de nacht; hi raat
>one: de eins; hi ek
>two: es dos; fr deux; pt dois, duas; de zwei; tl dalawa
>three: es tres; fr trois; pt três; it tre; de drei; tl tatlo
>four: es cuatro; fr quatre; pt quatro; it quattro; de vier; tl apat
>five: es cinco; fr cinq; pt cinco; it cinque; de fünf; hi paanch, panch
>six: es seis; pt seis; it sei; de sechs; tl anim; hi chhe
>seven: es siete; pt sete; it sette; de sieben; tl pito; hi saat
>eight: es ocho; fr huit; pt oito; de acht; tl walo; hi aath
>nine: es nueve; fr neuf; it nove; de neun; tl siyam
>ten: es diez; fr dix; pt dez; it dieci; de zehn; tl sampu
>eleven: fr onze; pt onze; it undici; hi gyarah
>twelve: es doce; fr douze; pt doze; it dodici; de zwölf; hi barah
>thirteen: es trece; fr treize; pt treze; it tredici; de dreizehn
>fourteen: es catorce; fr quatorze; pt catorze; it quattordici; de vierzehn
>fifteen: es quince; fr quinze; pt quinze; it quindici; de fünfzehn; hi pandrah
>sixteen: es dieciséis; pt dezesseis; it sedici; de sechzehn
>seventeen: es diecisiete; fr dix-sept; pt dezessete; it diciassette; de siebzehn
>eighteen: es dieciocho; fr dix-huit; pt dezoito; it diciotto; de achtzehn
>nineteen: es diecinueve; fr dix-neuf; pt dezenove; it diciannove; de neunzehn
>twenty: es veinte; fr vingt; pt vinte; it venti; de zwanzig
"""

# The same kinds in Dutch (nl), Polish (pl), Turkish (tr), Swahili (sw), Russian (ru) and Ukrainian (uk), and a few
# in romanised Arabic (ar), Japanese (ja), Korean (ko), Mandarin (zh) and Vietnamese (vi), the commonest words only:
# merged with the lines above of the same English word.
_MORE_TEXT = """
appointment: ar mawid; ja yoyaku; ko yeyak; vi lịch hẹn
doctor: ar tabib; ja oishasan; ko uisa; zh yisheng, daifu; vi bác sĩ
hospital: ar mustashfa; ja byouin, byoin; ko byeongwon; zh yiyuan; vi bệnh viện
medication: ja kusuri; zh yaowu; vi thuốc
birthday: ar eid milad; ja tanjoubi, tanjobi; ko saengil; zh shengri; vi sinh nhật
wedding: ar zafaf; ja kekkonshiki; ko gyeolhonsik; zh hunli; vi đám cưới
brother: ar akhi, akhoya
sister: ar ukhti, ukht
mother: nl moeder; pl matka; tr anne, annem; ru мама, мать; uk мати, мама
father: nl vader; pl ojciec; tr babam; ru папа, отец; uk тато, батько
brother: nl broer; tr kardeş, abim; ru брат; uk брат
sister: nl zus, zuster; pl siostra; tr abla; ru сестра; uk сестра
grandmother: tr babaanne, anneanne, nene; ru бабушка; uk бабуся, бабуся
grandfather: tr dede; ru дедушка; uk дідусь
partner: nl echtgenoot, echtgenote; pl żona, mąż; tr eşim, karım, kocam; ru жена, муж; uk дружина, чоловік
children: nl kinderen; pl dzieci; tr çocuklar; ru дети; uk діти
appointment: nl afspraak; pl wizyta; tr randevu; sw miadi; ru запись, приём; uk запис, прийом
doctor: nl dokter, huisarts; pl lekarz, lekarka; tr hekim; sw daktari; ru врач, доктор; uk лікар
dentist: nl tandarts; pl dentysta; tr dişçi; ru стоматолог; uk стоматолог
medication: nl medicijnen, pillen; pl leki, tabletki; tr ilaç, ilaçlar; ru лекарство, таблетки; uk ліки
pharmacy: nl apotheek; pl apteka; tr eczane; ru аптека; uk аптека
hospital: nl ziekenhuis; pl szpital; tr hastane; sw hospitali; ru больница; uk лікарня
train: nl trein; pl pociąg; tr tren; sw treni; ru поезд, электричка; uk поїзд
flight: nl vlucht, vliegtuig; pl samolot; tr uçuş, uçak; sw ndege; ru рейс, самолёт; uk рейс, літак
bus: pl autobus; tr otobüs; ru автобус; uk автобус
car: pl samochód; tr araba; sw gari; ru машина; uk машина
airport: nl vliegveld, luchthaven; pl lotnisko; tr havalimanı; ru аэропорт; uk аеропорт
station: pl dworzec; ru вокзал; uk вокзал
rent: nl huur; pl czynsz; tr kira; sw kodi; ru аренда, квартплата; uk оренда
money: pl pieniądze; ru деньги; uk гроші
bill: nl rekening; pl rachunek; ru счёт; uk рахунок
salary: nl salaris; pl pensja, wypłata; tr maaş; sw mshahara; ru зарплата; uk зарплата
apartment: nl appartement; pl mieszkanie; tr daire; ru квартира; uk квартира
landlord: nl huisbaas, verhuurder; pl właściciel; tr ev sahibi; ru хозяин; uk орендодавець
job: nl baan; pl praca; sw kazi; ru работа; uk робота
office: nl kantoor; pl biuro; tr ofis; ru офис; uk офіс
school: pl szkoła; tr okul; sw shule; ru школа; uk школа
exam: nl tentamen; pl egzamin; tr sınav; ru экзамен; uk іспит
birthday: nl verjaardag; pl urodziny; tr doğum günü; sw siku ya kuzaliwa; ru день рождения; uk день народження
wedding: nl bruiloft; pl ślub, wesele; tr düğün; sw harusi; ru свадьба; uk весілля
party: nl feest, feestje; pl impreza; sw sherehe; ru вечеринка; uk вечірка
christmas: nl kerst, kerstmis; pl wigilia; ru рождество; uk різдво
breakfast: nl ontbijt; pl śniadanie; tr kahvaltı; ru завтрак; uk сніданок
dinner: nl avondeten; pl kolacja; tr akşam yemeği; ru ужин; uk вечеря
meeting: nl vergadering; pl spotkanie, zebranie; tr toplantı; sw mkutano; ru встреча, собрание; uk зустріч, збори
cancelled: nl geannuleerd, afgezegd; pl odwołane, odwołany, odwołana; tr iptal; ru отменили; uk скасували, скасовано
postponed: nl uitgesteld; pl przełożone, przełożony; tr ertelendi; ru перенесли, отложили; uk перенесли
monday: nl maandag; pl poniedziałek; tr pazartesi; sw jumatatu; ru понедельник; uk понеділок
tuesday: nl dinsdag; pl wtorek; tr salı; sw jumanne; ru вторник; uk вівторок
wednesday: nl woensdag; pl środa; tr çarşamba; sw jumatano; ru среда; uk середа
thursday: nl donderdag; pl czwartek; tr perşembe; sw alhamisi; ru четверг; uk четвер
friday: nl vrijdag; pl piątek; tr cuma; sw ijumaa; ru пятница; uk пʼятниця
saturday: nl zaterdag; pl sobota; tr cumartesi; sw jumamosi; ru суббота; uk субота
sunday: nl zondag; pl niedziela; tr pazar; sw jumapili; ru воскресенье; uk неділя
january: nl januari; pl styczeń, stycznia; tr ocak; sw januari; ru январь, января; uk січень, січня
february: nl februari; pl luty, lutego; tr şubat; sw februari; ru февраль, февраля; uk лютий, лютого
march: nl maart; pl marzec; ru март; uk березень, березня
april: nl april; pl kwiecień, kwietnia; sw aprili; ru апрель, апреля; uk квітень, квітня
may: tr mayıs; ru мая; uk травень, травня
june: pl czerwiec, czerwca; tr haziran; ru июнь, июня; uk червень, червня
july: pl lipiec, lipca; tr temmuz; sw julai; ru июль, июля; uk липень, липня
august: nl augustus; pl sierpień, sierpnia; tr ağustos; sw agosti; ru август, августа; uk серпень, серпня
september: pl wrzesień, września; tr eylül; sw septemba; ru сентябрь, сентября; uk вересень, вересня
october: pl październik, października; tr ekim; sw oktoba; ru октябрь, октября; uk жовтень, жовтня
november: pl listopad, listopada; sw novemba; ru ноябрь, ноября; uk листопад, листопада
december: pl grudzień, grudnia; tr aralık; sw desemba; ru декабрь, декабря; uk грудень, грудня
"""

# Kin words for ``roles.py``'s compatibility check: role -> the words of this table for it.
_KIN_ROLES = {"mother": "mother", "father": "father", "brother": "brother", "sister": "sister", "son": "son",
              "daughter": "daughter", "children": "child", "grandmother": "grandmother", "grandfather": "grandfather",
              "uncle": "uncle", "neighbour": "neighbor", "doctor": "doctor"}


def _plain(word: str) -> str:
    """``word`` without its accents ("médecin" -> "medecin", "schlüssel" -> "schlussel", "ß" -> "ss"); a word of
    another script is left as written (Cyrillic "й" is a letter of its own, not "и" with a mark)."""
    if not re.search(r"[a-z]", word):
        return word
    folded = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    return "".join(c for c in folded if not unicodedata.combining(c))


# Common English words (and names) that a word of the table or its plain spelling would be: never added, never read
# ("taller" in "taller mecánico", "noel" for "noël", "depart" for "départ", "reporte" is Spanish for "report").
_ENGLISH_TEXT = """
    once red den son mama do teen char das due elf ate bad camera pot car taller courses pastel chef patron sept
    seize lima otto bees kinder um isa noel depart reporte ape piece super stanza sham parson mari luz costa mayo mai
    mars hakim kita meme pepe mere reunion janeiro marco santa voyage gabi pan con sin para por mas more sale place tale
    beau apr id
"""
_ENGLISH = frozenset(_ENGLISH_TEXT.split())


def _spellings(word: str) -> list[str]:
    """``word`` and its plain spelling, but not one that is, or has a part (or its keyword stem) that is, an English
    word or stopword ("apres-midi": Porter "apr", the "Apr" of English dates)."""
    return [w for w in dict.fromkeys([word, _plain(word)])
            if not any(p in _ENGLISH or p in T.STOPWORDS or T.stem(p) in _ENGLISH for p in re.findall(r"\w+", w))]


def _groups() -> list[tuple[str, list[str], list[str], bool]]:
    """(English word, words that start an expansion, keyword extras, one way) per line of the table."""
    out = []
    for entry in re.split(r"\n(?=\S)", _TABLE.strip() + "\n" + _MORE_TEXT.strip()):
        one_way = entry.startswith(">")
        english, _, rest = entry.lstrip(">").partition(":")
        chunks = [c.strip() for c in " ".join(rest.split()).split(";") if c.strip()]
        triggers: list[str] = []
        extras: list[str] = []
        names = [" ".join(w.split()) for w in english.split("|")]
        if chunks and not re.match(r"^[a-z]{2} ", chunks[0]) and not chunks[0].startswith("+"):
            names += [" ".join(w.split()) for w in chunks.pop(0).split("|")]  # more English words
        for chunk in chunks:
            words = chunk[3:] if re.match(r"^[a-z]{2} ", chunk) else chunk
            for word in (w.strip() for w in words.split(",")):
                if word.startswith("+"):
                    extras += _spellings(word[1:])
                elif word:
                    triggers += _spellings(word)
                    # a phrase's own longer words are keyword extras ("amigo secreto": "secreto")
                    extras += [w for part in re.split(r"[\s']+", word) if len(part) >= 5 and " " in word
                               for w in _spellings(part)]
        extras += [w for w in names[0].split() if len(w) >= 4 and " " in names[0]]  # "secret santa": its words
        out.append((names[0], list(dict.fromkeys(names[1:] + triggers)), list(dict.fromkeys(extras)), one_way))
    merged: dict[str, tuple[str, list[str], list[str], bool]] = {}
    for plain, triggers, extras, one_way in out:  # a word's lines of both tables as one
        if plain in merged:
            _, more, more_extras, _ = merged[plain]
            triggers, extras = [*more, *triggers], [*more_extras, *extras]
        merged[plain] = (plain, list(dict.fromkeys(triggers)), list(dict.fromkeys(extras)), one_way)
    return list(merged.values())


def _inflecting() -> dict[str, list[tuple[str, str]]]:
    """(word, English word) per language with a Snowball stemmer (``inflections.LANGUAGES``): the one-word triggers
    of the table whose inflected forms also start their group ("врача", "lekarza" for "врач", "lekarz")."""
    out: dict[str, list[tuple[str, str]]] = {}
    for entry in re.split(r"\n(?=\S)", _TABLE.strip() + "\n" + _MORE_TEXT.strip()):
        if entry.startswith(">"):
            continue
        english, _, rest = entry.partition(":")
        for chunk in " ".join(rest.split()).split(";"):
            code, _, words = chunk.strip().partition(" ")
            if code in LANGUAGES:
                out.setdefault(code, []).extend((w, english.split("|")[0].strip()) for w in
                                                (w.strip() for w in words.split(","))
                                                if w and " " not in w and not w.startswith("+") and _spellings(w))
    return out


GROUPS = _groups()
INFLECTING = _inflecting()
HERITAGE_KIN: dict[str, list[str]] = {
    _KIN_ROLES[plain]: [w for w in triggers if " " not in w and "-" not in w]
    for plain, triggers, _, _ in GROUPS if plain in _KIN_ROLES}

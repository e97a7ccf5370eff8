"""Kinds of things told by what they are, for query expansion (``synonyms.py``): a question names the kind ("What
instrument do I play?", "Which city is the wedding in?", "Who's my teeth-straightening doctor?", "What do I take for
my blood pressure?") and memory names a member ("the cello", "sana's shaadi", "ortho appt", "amlodipine"). The kind's
words (left of ">") add its members (right) to the keyword half of the expansion, one way only: a member never adds
its kind nor another member ("cello" is not "guitar", "nikah" is not the mehndi). A hand-written lexicon of everyday
things (not learned from any benchmark's words); "{kin}" stands for every kin word of ``synonyms.py``'s groups.
"""

from __future__ import annotations

__all__ = ["KINDS_TEXT"]

# A question often names the KIND of thing the memory names ("What instrument do I play?" / "I've been learning the
# cello", "Which lodging do we have in Porto?" / "Torel Palace", "my pet" / "our dog ziggy"): the kind's words (left
# of ">") add its common members (right) to the keyword half, one way only (a member never adds its kind, nor another
# member: "cello" is not "guitar").
_THINGS_TEXT = """
pet | pets > dog dogs puppy cat cats kitten kittens parrot budgie rabbit hamster goldfish tortoise guinea lizard snake
    pony horse
instrument | instruments > guitar piano violin cello drums drum bass ukulele flute saxophone sax trumpet clarinet
    keyboard harp sitar tabla
sport | sports > football soccer tennis badminton cricket rugby basketball netball hockey golf squash swimming
    running cycling climbing bouldering volleyball baseball padel
craft | crafts > pottery ceramics knitting crochet sewing quilting woodwork woodworking embroidery calligraphy weaving
language | languages | tongue > spanish french german italian portuguese japanese mandarin chinese cantonese korean
    arabic hindi urdu tamil welsh irish gaelic dutch russian greek swahili polish turkish
lodging | accommodation | place to stay > hotel hostel airbnb guesthouse inn lodge villa cottage cabin resort quinta
travel document | identity document > passport visa
greenery | houseplants > plant plants fern ferns cactus succulent succulents orchid orchids herbs basil monstera
    seedlings tomatoes
ailment | illness | disease | medical condition | health condition > diabetes asthma arthritis migraine migraines
    hypertension cancer dementia alzheimer alzheimers eczema epilepsy copd thyroid anaemia anemia
commute > bus train tube metro subway tram bike cycle cycles drive drives car shuttle ferry walk walks scooter taxi
    uber auto carpool
beverage | drink > coffee tea beer wine juice latte cappuccino espresso smoothie whisky gin cider
workout | exercise > gym running yoga pilates swimming cycling spin crossfit badminton tennis climbing
cuisine > italian indian thai japanese chinese mexican korean vietnamese lebanese greek turkish ramen sushi curry
appliance | appliances > fridge freezer dishwasher oven boiler microwave kettle washer dryer hob
gadget | device > phone laptop tablet ipad iphone kindle watch headphones earbuds
computer > laptop macbook pc desktop thinkpad chromebook
footwear | shoes > trainers sneakers boots sandals heels loafers
novel > book books
flight | flights | flying | fly | plane | airline | airlines > ryanair easyjet wizz jet2 vueling iberia lufthansa klm
    transavia eurowings finnair aegean jetblue westjet allegiant volaris aeromexico aerobus interjet avianca latam
    jetsmart emirates etihad flydubai saudia pegasus indigo vistara spicejet akasa airasia scoot jetstar qantas
    cathay asiana garuda vietjet egyptair redeye
guests | guest | attendees | invitees > headcount rsvps turnout attendance
train | trains | rail > tgv ouigo sncf eurostar thalys renfe trenitalia frecciarossa italo amtrak shinkansen ktx
    intercity pkp avanti lner gwr
get around | get about | getting around | getting about | mobility > walk walks walking cane stick walker wheelchair
    crutches scooter zimmer rollator drive drives driving bus taxi
supermarket | supermarkets | groceries | grocery | food shop | food shopping | weekly shop > tesco sainsburys asda
    aldi lidl waitrose morrisons coop costco walmart kroger safeway publix wegmans heb loblaws sobeys woolworths coles
    carrefour instacart ocado
phone network | mobile network | phone plan | mobile plan | carrier > vodafone ee o2 giffgaff verizon tmobile att
    sprint rogers telus bell optus telstra jio airtel globe smart
broadband | internet provider | wifi provider | internet plan > bt virgin sky plusnet talktalk comcast xfinity
    spectrum fios starlink eir
energy supplier | electricity supplier | gas supplier | energy provider > octopus edf eon ovo scottishpower
    pge coned
bank | banks | banking > barclays hsbc natwest lloyds santander halifax nationwide monzo starling revolut chase
    citi wells boa rbc td scotiabank bdo bpi
streaming | subscriptions | subscription > netflix spotify disney hulu hbo max paramount peacock youtube crunchyroll
    audible
payment app | pay back | paid back > venmo zelle paypal cashapp gcash paytm splitwise
dance | dances > formal prom ball homecoming gala disco ceilidh semiformal
martial art | martial arts > karate judo taekwondo jiujitsu aikido kickboxing boxing kungfu wushu capoeira
teacher | teachers | instructor | instructors > sifu sensei guru ustad ustaz maestro maestra
how old | age | aged > yo
blood sugar | glucose | sugar level | sugar levels > hba1c a1c
relative | relatives | family member | family members | in-laws | in laws > {kin}
"""

# The events and customs of other cultures as their kind: a person asks in English ("Which city is the wedding in?")
# what they told in their own words ("sana's shaadi is in lahore, mehndi on the 24th"), and MiniLM does not know the
# words. One way, like the kinds above: "nikah" is one part of a wedding, and "When is the nikah?" is not answered by
# the mehndi's date.
_EVENTS_TEXT = """
wedding | weddings | marriage | married | getting married | reception > shaadi shadi mehndi mehendi baraat barat
    walima valima nikah nikkah sangeet haldi kasal kasalan boda casamento hochzeit matrimonio
funeral | funerals | memorial > wake lamay burol janaza janazah velorio shiva shivah chehlum cremation vigil
engagement > mangni sagai roka pamamanhikan
christmas eve > nochebuena noche
gift money | red envelope | red envelopes | red packet | red packets | money envelopes > lai hongbao angpao angpow
    eidi shagun aguinaldo
send money | sending money | money home | remittance | remittances | money transfer > padala remit remitly wise
    xoom worldremit moneygram westernunion
martial arts school | martial arts club > kwoon dojo dojang
place of worship | worship | prayers | religious service > church mosque masjid gurdwara temple mandir synagogue shul
    chapel jummah mass
market | markets > palengke bazaar mercado souk pasar
"""

# Who does a job, told by what they do or treat ("my teeth-straightening doctor", "the kidney specialist", "who does
# my taxes"): a person describes a profession they do not name, and memory names it, or its shortening ("ortho appt",
# "Dr. Alvarez's office"). What the profession treats or handles (left) adds its names (right), one way.
_CARERS_TEXT = """
teeth | tooth | dental | gums > dentist dentists orthodontist ortho orthodontics hygienist braces retainer aligners
heart | cardiac > cardiologist cardiology cardio
kidney | kidneys | renal > nephrologist nephrology dialysis
skin | rash | acne | eczema > dermatologist derm dermatology
eye | eyes | eyesight | vision | glasses | contact lenses > optometrist optician ophthalmologist opticians
foot | feet | toenail | toenails > podiatrist chiropodist podiatry
children's doctor | kids' doctor | kids doctor | child's doctor | baby doctor > pediatrician paediatrician peds
pregnancy | pregnant | prenatal | antenatal | women's health > obstetrician obgyn gynaecologist gynecologist midwife
bone | bones | fracture | joint | joints > orthopaedic orthopedic orthopaedics orthopedics ortho
spine | bad back | back pain | neck pain > chiropractor chiro osteopath physio
mental health | anxiety | depression | talk therapy > therapist counsellor counselor psychologist psychiatrist
    counselling counseling therapy
hearing | ears > audiologist ent
cancer | tumour | tumor > oncologist oncology chemo chemotherapy radiotherapy
brain | nerves | seizures > neurologist neurology
stomach | gut | bowel | digestion > gastroenterologist gastro
thyroid | hormones | hormone > endocrinologist endo
hair | haircut | haircuts > hairdresser barber stylist hairstylist salon
taxes | tax return | tax returns | bookkeeping > accountant bookkeeper cpa
divorce | conveyancing | legal > lawyer solicitor attorney notary paralegal
pipes | leak | leaks | leaking | drains > plumber plumbing
wiring | fuse box | fuses | sockets | electrics > electrician sparky
animal doctor | pet doctor | pet's doctor | dog's doctor | cat's doctor > vet veterinarian vets
car repair | car repairs | fixes my car | fixes the car | car serviced | car service > mechanic garage
faith leader | religious leader | spiritual leader | clergy > imam pastor vicar rabbi pandit granthi priest reverend
financial adviser | financial advisor | pension | investments > adviser advisor ifa planner
carer | caregiver | home help > aide helper carer caregiver
driving lessons | driving teacher | learning to drive > instructor
lawn | mowing | hedges > gardener landscaper
cleaning | cleans > cleaner cleaners housekeeper maid
babysitting | babysit | childcare | minds the kids | looks after the kids | watches the kids > babysitter nanny
    childminder sitter yaya ayah amah
"""

# Medicines by what they treat ("What do I take for my blood pressure?" / "amlodipine 5 mg in the morning"): a person
# names the condition, the memory the drug (common generic and brand names).
_MEDICINES_TEXT = """
blood pressure | hypertension > amlodipine lisinopril losartan ramipril bisoprolol candesartan perindopril
    atenolol
cholesterol > statin statins atorvastatin simvastatin rosuvastatin lipitor crestor
diabetes | blood sugar > metformin glucophage janumet januvia insulin gliclazide jardiance ozempic
blood thinner | blood thinners | anticoagulant > warfarin apixaban rivaroxaban eliquis xarelto clopidogrel
painkiller | painkillers | pain relief > paracetamol ibuprofen tylenol advil naproxen codeine tramadol
inhaler | inhalers > ventolin salbutamol albuterol seretide symbicort
hay fever | antihistamine > cetirizine loratadine zyrtec claritin fexofenadine
antidepressant | antidepressants > sertraline fluoxetine citalopram prozac zoloft mirtazapine
heartburn | reflux | indigestion > omeprazole lansoprazole gaviscon pantoprazole
thyroid > levothyroxine thyroxine eltroxin synthroid
antibiotic | antibiotics > amoxicillin amoxiclav augmentin penicillin clindamycin doxycycline azithromycin
    cephalexin flucloxacillin ciprofloxacin nitrofurantoin
"""

KINDS_TEXT = _THINGS_TEXT + _EVENTS_TEXT + _CARERS_TEXT + _MEDICINES_TEXT

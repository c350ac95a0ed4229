"""tests/spamcorpus/words.py - the vocabulary of the generated spam corpus.

Word lists and sentence material for generate.py: general English, the
topics of legitimate mail (work, family, software, newsletters, shops,
services) and of spam (pharmacy, loans, crypto, dating, SEO, phishing),
and sentences in German, French, Portuguese, Japanese and Russian. The
lists are long and overlap on purpose (shops say "discount" too, mailing
lists quote spam), so that a statistical classifier has to learn from
the words rather than from a template.

Everything here is invented for the corpus; no text was copied from
real mail. SECURITY: none (static data).
"""

FIRST_NAMES = """
James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth
William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen
Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret
Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle
Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie
Ronald Rebecca Jason Laura Edward Helen Jeffrey Sharon Ryan Cynthia Jacob
Kathleen Gary Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Ruth
Larry Brenda Justin Pamela Scott Nicole Brandon Katherine Benjamin Virginia
Samuel Catherine Gregory Christine Alexander Debra Patrick Rachel Frank
Carolyn Raymond Janet Jack Maria Dennis Heather Jerry Diane Tyler Julie
Aaron Joyce Jose Victoria Adam Kelly Nathan Christina Henry Lauren Zachary
Joan Douglas Evelyn Peter Olivia Kyle Judith Noah Megan Ethan Cheryl Jeremy
Andrea Walter Hannah Christian Martha Keith Jacqueline Roger Frances Terry
Gloria Austin Ann Sean Teresa Gerald Kathryn Carl Sara Harold Janice Dylan
Jean Arthur Alice Lawrence Madison Jordan Doris Jesse Abigail Bryan Julia
Priya Rahul Ananya Vikram Mei Wei Hiroshi Yuki Sven Ingrid Lars Astrid
Mateo Lucia Diego Camila Tomasz Agnieszka Olga Dmitri Fatima Omar Aisha
Kwame Ama Chidi Ngozi Liam Siobhan Pierre Amelie Klaus Heike Joao Beatriz
""".split()

LAST_NAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin
Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker
Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson
Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans
Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy
Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard
Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray
Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross
Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson
Alexander Hamilton Graham Reynolds Griffin Wallace West Cole Hayes Bryant
Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall
Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas
Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter
Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes
Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills
Sharma Gupta Tanaka Suzuki Wang Zhang Larsen Nilsson Kowalski Nowak Ivanov
Okafor Mensah Haddad Khan OBrien Dubois Moreau Schmidt Fischer Oliveira
""".split()

# Syllables for invented organisation and product names.
SYLLABLES = """
al an ar as at ba be bi bo bra ca ce co cor da de di do dra el en er es
fa fe fi fo ga ge gi go gra ha he hi ho ka ke ki ko la le li lo lu ma me
mi mo mu na ne ni no nu or pa pe pi po pra ra re ri ro ru sa se si so sta
ta te ti to tra tri va ve vi vo xa ya yo za ze zo
""".split()

ORG_WORDS = """
north south east west blue green red silver golden bright clear swift
river lake stone oak pine maple cedar harbor summit valley ridge meadow
bridge tower field garden forest coast island metro city urban rural
prime core nova apex vertex axis orbit pixel quantum vector logic data
cloud stack byte signal spark flow wave pulse craft works labs studio
systems solutions partners group trading foods books press media health
care home living travel outdoor sports bikes coffee tea bakery market
""".split()

HAM_TLDS = ["com", "com", "com", "net", "org", "org", "io", "co.uk", "de",
            "fr", "com.br", "nl", "ca", "com.au", "se", "ch", "es", "it"]
SPAM_TLDS = ["com", "com", "net", "info", "biz", "top", "xyz", "online",
             "shop", "site", "ru", "cn", "club", "icu", "live", "org"]

FREEMAIL = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com",
            "aol.com", "mail.ru", "yandex.ru", "gmx.de", "web.de",
            "icloud.com", "protonmail.com"]

SHORTENERS = ["bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd",
              "cutt.ly", "rb.gy", "tiny.cc", "shorturl.at"]

# Brands whose real domains phishing imitates; legitimate notifications
# from the real domains are in the ham too.
BRANDS = [
    ("PayPal", "paypal.com"), ("Apple", "apple.com"),
    ("Microsoft", "microsoft.com"), ("Amazon", "amazon.com"),
    ("Google", "google.com"), ("Netflix", "netflix.com"),
    ("DHL", "dhl.com"), ("Chase", "chase.com"), ("DocuSign",
    "docusign.com"), ("Dropbox", "dropbox.com"),
]

WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = ("January February March April May June July August September "
          "October November December").split()

# ------------------------------------------------------------- English

PRONOUNS = "I we you they she he".split()

GENERAL_NOUNS = """
time year people way day man thing woman life child world school state
family student group country problem hand part place case week company
system program question work government number night point home water room
mother area money story fact month lot right study book eye job word
business issue side kind head house service friend father power hour game
line end member law car city community name president team minute idea
kid body information back parent face others level office door health
person art war history party result change morning reason research girl
guy moment air teacher force education foot boy age policy process music
market sense nation plan college interest death experience effect use
class control care field development role effort rate heart drug show
leader light voice wife police mind price report decision son view
relationship town road arm difference value building action model season
society tax director position player record paper space ground form event
official matter center couple site project activity star table need court
oil situation cost industry figure street image phone data picture
practice piece land product doctor wall patient worker news test movie
north love support technology step baby computer type attention film tree
source organization hair window evidence population site truth camera
""".split()

GENERAL_VERBS = """
checked sent reviewed updated moved shared finished started booked
fixed discussed confirmed changed found forwarded approved signed read
wrote called planned cancelled rescheduled attached printed uploaded
downloaded ordered delivered returned asked answered mentioned noticed
tested merged prepared collected organised cleaned painted visited
""".split()

GENERAL_ADJ = """
new good first last long great little own other old right big high
different small large next early young important few public bad same able
local sure free better true whole real best hard clear recent certain
personal open red difficult available likely short single medical current
wrong private past foreign fine common poor natural significant similar
hot dead central happy serious ready simple left physical general
environmental financial blue democratic dark various entire close legal
religious cold final main green nice huge popular traditional cultural
quiet busy quick careful tiny rough smooth lovely strange useful honest
""".split()

ADVERBIALS = [
    "by {weekday}", "next week", "this morning", "yesterday", "last night",
    "before the meeting", "after lunch", "on {weekday}", "in {month}",
    "over the weekend", "as soon as possible", "for the third time",
    "at the office", "from home", "in the end", "later today", "tomorrow",
    "around {hour} o'clock", "on the way back", "during the call",
    "since {month}", "until {weekday}", "this afternoon", "last {weekday}",
]

TOPICS = {
    "work": """
meeting agenda deadline budget forecast quarter review draft proposal
contract client vendor invoice milestone roadmap slide deck spreadsheet
presentation workshop onboarding headcount offsite retrospective sprint
minutes action item stakeholder approval sign-off estimate timeline scope
deliverable handover audit compliance procurement renewal travel expense
""".split(),
    "family": """
dinner weekend kids birthday party grandma grandpa holiday trip beach
barbecue garden dog cat school recital football practice cousins wedding
anniversary photos recipe cake picnic camping hike museum concert movie
flight train hotel apartment move furniture paint neighbours babysitter
""".split(),
    "software": """
patch commit branch merge rebase kernel compiler linker build regression
test suite benchmark release changelog tarball signature maintainer
upstream downstream package dependency library header config option flag
warning error segfault backtrace valgrind sanitizer fuzzing parser buffer
allocator thread mutex socket protocol endpoint latency throughput cache
memory leak pointer struct function module plugin daemon systemd cron
""".split(),
    "newsletter": """
article issue edition weekly monthly digest story interview column essay
feature recipe travel guide garden photography science history review
podcast episode video event webinar readers community subscribers author
editor highlights roundup archive season exhibition festival workshop
""".split(),
    "shop": """
sale discount offer coupon code shipping delivery order cart checkout
collection new arrivals bestseller season clearance gift card voucher
members loyalty points store outlet size colour stock limited edition
jacket shoes dress shirt watch bag headphones laptop camera sofa lamp
""".split(),
    "service": """
account login password security alert device browser location receipt
payment statement invoice subscription plan renewal storage quota backup
shipment tracking parcel courier appointment reminder verification code
notification settings profile update repository issue comment pull request
""".split(),
}

SPAM_TOPICS = {
    "pharmacy": """
viagra cialis levitra pills tablets pharmacy prescription meds generic
dosage erectile dysfunction men health stamina performance cheap online
order discreet shipping worldwide approved canadian brand quality
weight loss diet fat burner supplements painkillers xanax valium tramadol
refill doctor consultation without prescription lowest price guaranteed
""".split(),
    "loan": """
loan credit approved instant cash payday advance mortgage refinance rate
debt consolidation bad credit score lender apply today funds deposit
business funding unsecured personal finance low interest monthly payment
pre-approved eligible offer expires guaranteed approval no credit check
""".split(),
    "crypto": """
bitcoin ethereum crypto token presale airdrop wallet exchange trading bot
profit returns invest investment portfolio altcoin coin mining staking
yield pump moon 100x opportunity exclusive early whitelist blockchain nft
defi platform withdraw deposit bonus signals guaranteed passive income
""".split(),
    "dating": """
lonely singles meet dating chat profile photos girls women men hot sexy
tonight area nearby match hookup private messages date flirt cam video
verified members waiting free signup naughty adult secret discreet
""".split(),
    "seo": """
seo ranking google first page backlinks traffic website audit keywords
search engine optimization marketing agency guest post domain authority
leads conversion social media followers reviews design redesign
developer outsourcing affordable package monthly report competitors
""".split(),
    "phish": """
account suspended verify confirm identity unusual activity login attempt
security team update payment information billing expired locked limited
restore access within 24 hours click below immediately failure to comply
permanently closed invoice document shared voicemail password expires
mailbox quota storage full delivery failed parcel held customs fee
""".split(),
}

SPAM_OPENERS = [
    "Dear friend,", "Hello,", "Hi there!", "Dear customer,", "Attention!",
    "Greetings,", "Good day,", "Dear Sir/Madam,", "Hey,", "Congratulations!",
    "Dear valued member,", "Important notice:", "Hi,", "Dear user,",
]

SPAM_PHRASES = [
    "act now", "limited time only", "100% satisfaction guaranteed",
    "no risk", "order today", "special promotion", "while supplies last",
    "click here", "unsubscribe at any time", "this is not spam",
    "you have been selected", "exclusive deal", "best price online",
    "risk free", "call now", "once in a lifetime", "don't miss out",
    "double your money", "earn extra cash", "work from home",
    "as seen on TV", "no hidden fees", "free consultation", "winner",
    "urgent response needed", "all natural", "lose weight fast",
    "get paid", "huge savings", "apply now", "instant access",
]

HAM_OPENERS = [
    "Hi {first},", "Hello {first},", "Dear {first},", "Hey {first},",
    "{first},", "Good morning {first},", "Hi all,", "Hi team,",
    "Dear colleagues,", "Hello everyone,", "Morning {first},",
]

HAM_CLOSINGS = [
    "Thanks,", "Best,", "Cheers,", "Regards,", "Best regards,",
    "Kind regards,", "Thanks again,", "See you soon,", "Talk soon,",
    "All the best,", "Many thanks,", "Warmly,", "Take care,",
]

# ------------------------------------------------------------- other
# languages: sentences with {name} {day} {num} slots, for ham and spam.

LANGS = {
    "de": {
        "names": ["Anna", "Jonas", "Lena", "Lukas", "Sophie", "Felix",
                  "Marie", "Paul", "Katrin", "Jürgen", "Björn", "Gisela"],
        "days": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag",
                 "Samstag", "Sonntag"],
        "greet": ["Hallo {name},", "Liebe {name},", "Guten Tag {name},",
                  "Moin {name},", "Sehr geehrte Damen und Herren,"],
        "close": ["Viele Grüße", "Beste Grüße", "Mit freundlichen Grüßen",
                  "Liebe Grüße", "Bis bald"],
        "ham": [
            "ich habe die Unterlagen für das Treffen am {day} angehängt.",
            "Könntest du bitte kurz über den Entwurf schauen?",
            "Die Besprechung wurde auf {day} um {num} Uhr verschoben.",
            "Wir treffen uns wie immer vor dem Bahnhof.",
            "Danke für die schnelle Antwort, das hilft uns sehr.",
            "Die Rechnung für den letzten Monat ist jetzt verfügbar.",
            "Am Wochenende fahren wir zu meinen Eltern nach Köln.",
            "Der Zug hatte wieder einmal {num} Minuten Verspätung.",
            "Bitte bestätige mir kurz, ob der Termin passt.",
            "Ich bin bis {day} im Urlaub und lese keine E-Mails.",
            "Das neue Büro liegt direkt neben der Bäckerei.",
            "Für die Präsentation brauchen wir noch ein paar Zahlen.",
            "Hast du schon die Fotos vom Grillabend gesehen?",
            "Die Kinder freuen sich schon auf die Ferien.",
            "Über die Änderungen sprechen wir am besten persönlich.",
            "Der Vertrag muss bis Ende des Monats unterschrieben sein.",
            "Schöne Grüße auch an deine Schwester!",
            "Die Heizung in der Wohnung funktioniert endlich wieder.",
            "Wir haben {num} Anmeldungen für den Workshop erhalten.",
            "Gestern war das Wetter perfekt für eine Radtour.",
        ],
        "spam": [
            "Sie haben einen Gewinn von {num}.000 Euro erhalten!",
            "Günstige Medikamente ohne Rezept, diskreter Versand.",
            "Jetzt Kredit beantragen und sofort Geld erhalten.",
            "Verdienen Sie {num}00 Euro am Tag von zu Hause aus.",
            "Ihr Konto wurde vorübergehend gesperrt.",
            "Nur heute: {num}0 Prozent Rabatt auf alles!",
        ],
        "subjects_ham": ["Treffen am {day}", "Unterlagen", "Grillabend",
                         "Rechnung März", "Urlaub", "Frage zum Entwurf",
                         "Änderungen im Vertrag", "Fotos vom Wochenende"],
        "subjects_spam": ["Gewinnbenachrichtigung", "Ihr Kredit ist genehmigt",
                          "Günstige Potenzmittel", "Konto gesperrt!"],
        "charsets": ["utf-8", "iso-8859-1", "iso-8859-15"],
    },
    "fr": {
        "names": ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Théo",
                  "Manon", "Élodie", "François", "Hélène"],
        "days": ["lundi", "mardi", "mercredi", "jeudi", "vendredi",
                 "samedi", "dimanche"],
        "greet": ["Bonjour {name},", "Salut {name} !", "Chère {name},",
                  "Madame, Monsieur,", "Coucou {name},"],
        "close": ["Bien à toi", "Cordialement", "Bonne journée",
                  "À bientôt", "Bises"],
        "ham": [
            "je t'envoie le compte rendu de la réunion de {day}.",
            "Peux-tu relire le document avant vendredi ?",
            "La réunion est déplacée à {day} à {num} heures.",
            "Merci pour ton aide, c'était très gentil.",
            "Nous partons en vacances en Bretagne la semaine prochaine.",
            "La facture du mois dernier est en pièce jointe.",
            "Le train est arrivé avec {num} minutes de retard.",
            "N'oublie pas d'apporter le gâteau pour l'anniversaire.",
            "J'ai réservé une table au restaurant pour {day} soir.",
            "Le devis a été accepté par le client ce matin.",
            "Est-ce que tu as reçu les photos du mariage ?",
            "Les enfants ont adoré le musée hier après-midi.",
            "Il faut encore signer le contrat avant la fin du mois.",
            "Je serai au bureau jusqu'à {num} heures aujourd'hui.",
            "La rentrée scolaire approche déjà, c'est fou.",
            "On se retrouve devant la gare comme d'habitude.",
            "Nous avons reçu {num} inscriptions pour l'atelier.",
            "Le chauffage de l'appartement a été réparé.",
        ],
        "spam": [
            "Vous avez gagné un iPhone, réclamez-le maintenant !",
            "Médicaments pas chers sans ordonnance, livraison discrète.",
            "Obtenez un crédit immédiat sans justificatif.",
            "Gagnez {num}00 euros par jour depuis chez vous.",
            "Votre compte a été suspendu, vérifiez vos informations.",
        ],
        "subjects_ham": ["Compte rendu de {day}", "Vacances", "Facture",
                         "Réunion déplacée", "Photos du mariage", "Devis",
                         "Anniversaire de Léa", "Question sur le document"],
        "subjects_spam": ["Félicitations, vous avez gagné", "Crédit rapide",
                          "Votre compte est suspendu"],
        "charsets": ["utf-8", "iso-8859-15", "utf-8"],
    },
    "pt": {
        "names": ["João", "Maria", "Pedro", "Ana", "Lucas", "Beatriz",
                  "Gonçalo", "Inês", "Luís", "Conceição"],
        "days": ["segunda-feira", "terça-feira", "quarta-feira",
                 "quinta-feira", "sexta-feira", "sábado", "domingo"],
        "greet": ["Olá {name},", "Oi {name}!", "Prezado {name},",
                  "Bom dia {name},", "Caros colegas,"],
        "close": ["Abraços", "Atenciosamente", "Beijos", "Até logo",
                  "Um abraço"],
        "ham": [
            "segue em anexo a ata da reunião de {day}.",
            "Você pode revisar o relatório até sexta-feira?",
            "A reunião foi remarcada para {day} às {num} horas.",
            "Obrigado pela ajuda, foi muito útil.",
            "Vamos passar o feriado na praia com a família.",
            "A fatura do mês passado já está disponível.",
            "O ônibus atrasou {num} minutos hoje de manhã.",
            "Não esqueça de trazer o bolo para o aniversário.",
            "Reservei uma mesa no restaurante para {day} à noite.",
            "O orçamento foi aprovado pelo cliente.",
            "Você recebeu as fotos do casamento?",
            "As crianças adoraram o passeio no parque.",
            "Precisamos assinar o contrato até o fim do mês.",
            "Estarei no escritório até as {num} horas.",
            "Recebemos {num} inscrições para a oficina.",
            "O conserto do aquecedor ficou pronto ontem.",
        ],
        "spam": [
            "Parabéns! Você ganhou um prêmio de {num} mil reais.",
            "Empréstimo aprovado na hora, sem consulta ao SPC.",
            "Remédios baratos sem receita, entrega discreta.",
            "Ganhe dinheiro trabalhando em casa, {num}00 por dia.",
            "Sua conta foi bloqueada, atualize seus dados agora.",
        ],
        "subjects_ham": ["Ata da reunião", "Feriado", "Fatura",
                         "Reunião remarcada", "Fotos do casamento",
                         "Orçamento aprovado", "Aniversário da Inês"],
        "subjects_spam": ["Você ganhou!", "Empréstimo aprovado",
                          "Conta bloqueada"],
        "charsets": ["utf-8", "iso-8859-1", "utf-8"],
    },
    "ja": {
        "names": ["田中", "鈴木", "佐藤", "高橋", "伊藤", "渡辺", "山本",
                  "中村", "小林", "加藤"],
        "days": ["月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日",
                 "日曜日"],
        "greet": ["{name}さん", "{name}様", "{name}さん、こんにちは。",
                  "お疲れ様です。"],
        "close": ["よろしくお願いします。", "以上です。", "ではまた。",
                  "よろしくお願いいたします。"],
        "ham": [
            "{day}の会議の資料を添付しました。",
            "報告書を確認していただけますか。",
            "打ち合わせは{day}の{num}時に変更になりました。",
            "先日はありがとうございました。",
            "来週から夏休みで、実家に帰ります。",
            "先月の請求書をお送りします。",
            "電車が{num}分遅れて、遅刻してしまいました。",
            "誕生日のケーキを予約しておきました。",
            "新しい事務所は駅の近くにあります。",
            "見積もりは明日までに送ります。",
            "週末は天気が良かったので、山に行きました。",
            "契約書に署名をお願いします。",
            "子供たちは運動会をとても楽しみにしています。",
            "資料の修正版を共有フォルダに置きました。",
            "参加者は全部で{num}名の予定です。",
        ],
        "spam": [
            "おめでとうございます。{num}万円が当選しました。",
            "今すぐ登録して無料でポイントを受け取ってください。",
            "お客様のアカウントは一時的に停止されました。",
            "簡単な作業で毎日{num}万円稼げます。",
        ],
        "subjects_ham": ["会議の資料", "打ち合わせの変更", "請求書の送付",
                         "夏休みのお知らせ", "見積もりの件",
                         "契約書について"],
        "subjects_spam": ["当選のお知らせ", "アカウント停止のお知らせ",
                          "高収入のお仕事"],
        "charsets": ["iso-2022-jp", "utf-8"],
    },
    "ru": {
        "names": ["Ольга", "Дмитрий", "Анна", "Сергей", "Наталья", "Иван",
                  "Екатерина", "Алексей", "Мария", "Павел"],
        "days": ["понедельник", "вторник", "среду", "четверг", "пятницу",
                 "субботу", "воскресенье"],
        "greet": ["Привет, {name}!", "Здравствуйте, {name}!",
                  "Добрый день, {name}.", "Уважаемые коллеги,"],
        "close": ["С уважением", "Пока", "До встречи", "Спасибо",
                  "Всего доброго"],
        "ham": [
            "отправляю протокол совещания за {day}.",
            "Посмотри, пожалуйста, отчет до пятницы.",
            "Встреча перенесена на {day}, в {num} часов.",
            "Спасибо за помощь, это было очень кстати.",
            "На выходных мы едем на дачу к родителям.",
            "Счет за прошлый месяц во вложении.",
            "Поезд опоздал на {num} минут, как обычно.",
            "Не забудь купить торт на день рождения.",
            "Я забронировал столик в ресторане на {day}.",
            "Клиент одобрил смету сегодня утром.",
            "Ты получил фотографии со свадьбы?",
            "Дети в восторге от поездки в музей.",
            "Договор нужно подписать до конца месяца.",
            "На семинар записались {num} человек.",
            "Отопление в квартире наконец починили.",
        ],
        "spam": [
            "Поздравляем! Вы выиграли {num} тысяч рублей.",
            "Дешевые лекарства без рецепта, анонимная доставка.",
            "Кредит наличными за {num} минут без справок.",
            "Заработок в интернете от {num} тысяч в день.",
            "Ваш аккаунт заблокирован, подтвердите данные.",
        ],
        "subjects_ham": ["Протокол совещания", "Встреча перенесена",
                         "Счет за месяц", "Фотографии со свадьбы",
                         "Договор", "Выходные"],
        "subjects_spam": ["Вы выиграли приз", "Кредит без справок",
                          "Аккаунт заблокирован"],
        "charsets": ["koi8-r", "utf-8"],
    },
}

/// The word and emoji lists of the short authentication string (Protocols/peer/verification.md §4).
///
/// Entry n of `wordList` names the picture of entry n of `emojiList`, so a SAS shown as emoji can be read
/// aloud with its words. Parley made these lists for itself; the rules they follow, checked by tests:
/// - words: 256, lowercase ASCII letters only, 3–8 letters, common English nouns; no two closer than
///   two edits (insert, delete or replace a letter); no two share their first four letters; sound-alike
///   pairs (bear/beer, sheep/ship, key/ski, goat/ghost…) were removed by hand;
/// - emoji: 256, each a single Unicode scalar with default emoji presentation (no variation selector, no
///   joiner, no skin tone, no flags), from Unicode 9.0 (2016) or earlier so every current system draws
///   them; no smileys, people or hand gestures, and no near look-alikes.
/// Changing either list changes what users see for the same handshake: it needs a new label.
extension ShortAuthenticationString {
    /// The 256 words; index = SAS byte value.
    public static let wordList: [String] = entries.map(\.word)

    /// The 256 emoji; index = SAS byte value.
    public static let emojiList: [String] = entries.map(\.emoji)

    /// (word, emoji) pairs in index order, grouped by theme.
    static let entries: [(word: String, emoji: String)] = [
        // Animals
        ("dog", "🐶"),  // 0: U+1F436 DOG FACE
        ("cat", "🐱"),  // 1: U+1F431 CAT FACE
        ("mouse", "🐭"),  // 2: U+1F42D MOUSE FACE
        ("rabbit", "🐰"),  // 3: U+1F430 RABBIT FACE
        ("fox", "🦊"),  // 4: U+1F98A FOX FACE
        ("bear", "🐻"),  // 5: U+1F43B BEAR FACE
        ("panda", "🐼"),  // 6: U+1F43C PANDA FACE
        ("koala", "🐨"),  // 7: U+1F428 KOALA
        ("tiger", "🐯"),  // 8: U+1F42F TIGER FACE
        ("lion", "🦁"),  // 9: U+1F981 LION FACE
        ("cow", "🐮"),  // 10: U+1F42E COW FACE
        ("pig", "🐷"),  // 11: U+1F437 PIG FACE
        ("frog", "🐸"),  // 12: U+1F438 FROG FACE
        ("monkey", "🐵"),  // 13: U+1F435 MONKEY FACE
        ("chicken", "🐔"),  // 14: U+1F414 CHICKEN
        ("penguin", "🐧"),  // 15: U+1F427 PENGUIN
        ("bird", "🐦"),  // 16: U+1F426 BIRD
        ("duck", "🦆"),  // 17: U+1F986 DUCK
        ("eagle", "🦅"),  // 18: U+1F985 EAGLE
        ("owl", "🦉"),  // 19: U+1F989 OWL
        ("wolf", "🐺"),  // 20: U+1F43A WOLF FACE
        ("horse", "🐴"),  // 21: U+1F434 HORSE FACE
        ("unicorn", "🦄"),  // 22: U+1F984 UNICORN FACE
        ("bee", "🐝"),  // 23: U+1F41D HONEYBEE
        ("worm", "🐛"),  // 24: U+1F41B BUG
        ("ladybug", "🐞"),  // 25: U+1F41E LADY BEETLE
        ("ant", "🐜"),  // 26: U+1F41C ANT
        ("scorpion", "🦂"),  // 27: U+1F982 SCORPION
        ("crab", "🦀"),  // 28: U+1F980 CRAB
        ("snake", "🐍"),  // 29: U+1F40D SNAKE
        ("lizard", "🦎"),  // 30: U+1F98E LIZARD
        ("turtle", "🐢"),  // 31: U+1F422 TURTLE
        ("octopus", "🐙"),  // 32: U+1F419 OCTOPUS
        ("squid", "🦑"),  // 33: U+1F991 SQUID
        ("shrimp", "🦐"),  // 34: U+1F990 SHRIMP
        ("fish", "🐟"),  // 35: U+1F41F FISH
        ("dolphin", "🐬"),  // 36: U+1F42C DOLPHIN
        ("whale", "🐳"),  // 37: U+1F433 SPOUTING WHALE
        ("shark", "🦈"),  // 38: U+1F988 SHARK
        ("croc", "🐊"),  // 39: U+1F40A CROCODILE
        ("leopard", "🐆"),  // 40: U+1F406 LEOPARD
        ("gorilla", "🦍"),  // 41: U+1F98D GORILLA
        ("elephant", "🐘"),  // 42: U+1F418 ELEPHANT
        ("rhino", "🦏"),  // 43: U+1F98F RHINOCEROS
        ("camel", "🐫"),  // 44: U+1F42B BACTRIAN CAMEL
        ("goat", "🐐"),  // 45: U+1F410 GOAT
        ("sheep", "🐑"),  // 46: U+1F411 SHEEP
        ("turkey", "🦃"),  // 47: U+1F983 TURKEY
        ("deer", "🦌"),  // 48: U+1F98C DEER
        ("puffer", "🐡"),  // 49: U+1F421 BLOWFISH
        ("shell", "🐚"),  // 50: U+1F41A SPIRAL SHELL
        ("dragon", "🐉"),  // 51: U+1F409 DRAGON
        ("buffalo", "🐃"),  // 52: U+1F403 WATER BUFFALO
        ("paw", "🐾"),  // 53: U+1F43E PAW PRINTS
        // Plants, weather and nature
        ("rose", "🌹"),  // 54: U+1F339 ROSE
        ("tulip", "🌷"),  // 55: U+1F337 TULIP
        ("daisy", "🌼"),  // 56: U+1F33C BLOSSOM
        ("blossom", "🌸"),  // 57: U+1F338 CHERRY BLOSSOM
        ("cactus", "🌵"),  // 58: U+1F335 CACTUS
        ("palm", "🌴"),  // 59: U+1F334 PALM TREE
        ("tree", "🌳"),  // 60: U+1F333 DECIDUOUS TREE
        ("maple", "🍁"),  // 61: U+1F341 MAPLE LEAF
        ("clover", "🍀"),  // 62: U+1F340 FOUR LEAF CLOVER
        ("sprout", "🌱"),  // 63: U+1F331 SEEDLING
        ("wheat", "🌾"),  // 64: U+1F33E EAR OF RICE
        ("mountain", "🗻"),  // 65: U+1F5FB MOUNT FUJI
        ("volcano", "🌋"),  // 66: U+1F30B VOLCANO
        ("earth", "🌍"),  // 67: U+1F30D EARTH GLOBE EUROPE-AFRICA
        ("moon", "🌙"),  // 68: U+1F319 CRESCENT MOON
        ("sun", "🌞"),  // 69: U+1F31E SUN WITH FACE
        ("star", "⭐"),  // 70: U+2B50 WHITE MEDIUM STAR
        ("cloud", "⛅"),  // 71: U+26C5 SUN BEHIND CLOUD
        ("rainbow", "🌈"),  // 72: U+1F308 RAINBOW
        ("snowman", "⛄"),  // 73: U+26C4 SNOWMAN WITHOUT SNOW
        ("fire", "🔥"),  // 74: U+1F525 FIRE
        ("droplet", "💧"),  // 75: U+1F4A7 DROPLET
        ("ocean", "🌊"),  // 76: U+1F30A WATER WAVE
        ("zap", "⚡"),  // 77: U+26A1 HIGH VOLTAGE SIGN
        ("umbrella", "☔"),  // 78: U+2614 UMBRELLA WITH RAIN DROPS
        ("cyclone", "🌀"),  // 79: U+1F300 CYCLONE
        ("blast", "💥"),  // 80: U+1F4A5 COLLISION SYMBOL
        // Food and drink
        ("apple", "🍎"),  // 81: U+1F34E RED APPLE
        ("orange", "🍊"),  // 82: U+1F34A TANGERINE
        ("lemon", "🍋"),  // 83: U+1F34B LEMON
        ("banana", "🍌"),  // 84: U+1F34C BANANA
        ("grapes", "🍇"),  // 85: U+1F347 GRAPES
        ("cherry", "🍒"),  // 86: U+1F352 CHERRIES
        ("kiwi", "🥝"),  // 87: U+1F95D KIWIFRUIT
        ("avocado", "🥑"),  // 88: U+1F951 AVOCADO
        ("potato", "🥔"),  // 89: U+1F954 POTATO
        ("carrot", "🥕"),  // 90: U+1F955 CARROT
        ("corn", "🌽"),  // 91: U+1F33D EAR OF MAIZE
        ("cucumber", "🥒"),  // 92: U+1F952 CUCUMBER
        ("mushroom", "🍄"),  // 93: U+1F344 MUSHROOM
        ("peanut", "🥜"),  // 94: U+1F95C PEANUTS
        ("chestnut", "🌰"),  // 95: U+1F330 CHESTNUT
        ("bread", "🍞"),  // 96: U+1F35E BREAD
        ("pancake", "🥞"),  // 97: U+1F95E PANCAKES
        ("cheese", "🧀"),  // 98: U+1F9C0 CHEESE WEDGE
        ("meat", "🍖"),  // 99: U+1F356 MEAT ON BONE
        ("bacon", "🥓"),  // 100: U+1F953 BACON
        ("burger", "🍔"),  // 101: U+1F354 HAMBURGER
        ("fries", "🍟"),  // 102: U+1F35F FRENCH FRIES
        ("pizza", "🍕"),  // 103: U+1F355 SLICE OF PIZZA
        ("hotdog", "🌭"),  // 104: U+1F32D HOT DOG
        ("taco", "🌮"),  // 105: U+1F32E TACO
        ("burrito", "🌯"),  // 106: U+1F32F BURRITO
        ("kebab", "🥙"),  // 107: U+1F959 STUFFED FLATBREAD
        ("egg", "🥚"),  // 108: U+1F95A EGG
        ("popcorn", "🍿"),  // 109: U+1F37F POPCORN
        ("salad", "🥗"),  // 110: U+1F957 GREEN SALAD
        ("noodles", "🍜"),  // 111: U+1F35C STEAMING BOWL
        ("pasta", "🍝"),  // 112: U+1F35D SPAGHETTI
        ("sushi", "🍣"),  // 113: U+1F363 SUSHI
        ("bento", "🍱"),  // 114: U+1F371 BENTO BOX
        ("paella", "🥘"),  // 115: U+1F958 SHALLOW PAN OF FOOD
        ("stew", "🍲"),  // 116: U+1F372 POT OF FOOD
        ("donut", "🍩"),  // 117: U+1F369 DOUGHNUT
        ("cookie", "🍪"),  // 118: U+1F36A COOKIE
        ("cake", "🎂"),  // 119: U+1F382 BIRTHDAY CAKE
        ("pudding", "🍮"),  // 120: U+1F36E CUSTARD
        ("candy", "🍬"),  // 121: U+1F36C CANDY
        ("lollipop", "🍭"),  // 122: U+1F36D LOLLIPOP
        ("honey", "🍯"),  // 123: U+1F36F HONEY POT
        ("milk", "🥛"),  // 124: U+1F95B GLASS OF MILK
        ("bottle", "🍼"),  // 125: U+1F37C BABY BOTTLE
        ("coffee", "☕"),  // 126: U+2615 HOT BEVERAGE
        ("wine", "🍷"),  // 127: U+1F377 WINE GLASS
        ("cocktail", "🍸"),  // 128: U+1F378 COCKTAIL GLASS
        ("spoon", "🥄"),  // 129: U+1F944 SPOON
        // Travel and places
        ("bus", "🚌"),  // 130: U+1F68C BUS
        ("taxi", "🚕"),  // 131: U+1F695 TAXI
        ("van", "🚐"),  // 132: U+1F690 MINIBUS
        ("truck", "🚚"),  // 133: U+1F69A DELIVERY TRUCK
        ("tractor", "🚜"),  // 134: U+1F69C TRACTOR
        ("bike", "🚲"),  // 135: U+1F6B2 BICYCLE
        ("scooter", "🛴"),  // 136: U+1F6F4 SCOOTER
        ("train", "🚂"),  // 137: U+1F682 STEAM LOCOMOTIVE
        ("metro", "🚇"),  // 138: U+1F687 METRO
        ("monorail", "🚝"),  // 139: U+1F69D MONORAIL
        ("chopper", "🚁"),  // 140: U+1F681 HELICOPTER
        ("plane", "🛫"),  // 141: U+1F6EB AIRPLANE DEPARTURE
        ("rocket", "🚀"),  // 142: U+1F680 ROCKET
        ("sailboat", "⛵"),  // 143: U+26F5 SAILBOAT
        ("canoe", "🛶"),  // 144: U+1F6F6 CANOE
        ("anchor", "⚓"),  // 145: U+2693 ANCHOR
        ("fuel", "⛽"),  // 146: U+26FD FUEL PUMP
        ("barrier", "🚧"),  // 147: U+1F6A7 CONSTRUCTION SIGN
        ("siren", "🚨"),  // 148: U+1F6A8 POLICE CARS REVOLVING LIGHT
        ("stop", "🛑"),  // 149: U+1F6D1 OCTAGONAL SIGN
        ("flag", "🏁"),  // 150: U+1F3C1 CHEQUERED FLAG
        ("tent", "⛺"),  // 151: U+26FA TENT
        ("home", "🏠"),  // 152: U+1F3E0 HOUSE BUILDING
        ("office", "🏢"),  // 153: U+1F3E2 OFFICE BUILDING
        ("castle", "🏰"),  // 154: U+1F3F0 EUROPEAN CASTLE
        ("tower", "🗼"),  // 155: U+1F5FC TOKYO TOWER
        ("statue", "🗽"),  // 156: U+1F5FD STATUE OF LIBERTY
        ("factory", "🏭"),  // 157: U+1F3ED FACTORY
        ("circus", "🎪"),  // 158: U+1F3AA CIRCUS TENT
        ("carousel", "🎠"),  // 159: U+1F3A0 CAROUSEL HORSE
        ("coaster", "🎢"),  // 160: U+1F3A2 ROLLER COASTER
        // Objects
        ("key", "🔑"),  // 161: U+1F511 KEY
        ("lock", "🔒"),  // 162: U+1F512 LOCK
        ("bell", "🔔"),  // 163: U+1F514 BELL
        ("book", "📕"),  // 164: U+1F4D5 CLOSED BOOK
        ("news", "📰"),  // 165: U+1F4F0 NEWSPAPER
        ("memo", "📝"),  // 166: U+1F4DD MEMO
        ("scroll", "📜"),  // 167: U+1F4DC SCROLL
        ("envelope", "📨"),  // 168: U+1F4E8 INCOMING ENVELOPE
        ("parcel", "📦"),  // 169: U+1F4E6 PACKAGE
        ("mailbox", "📫"),  // 170: U+1F4EB CLOSED MAILBOX WITH RAISED FLAG
        ("pushpin", "📌"),  // 171: U+1F4CC PUSHPIN
        ("clip", "📎"),  // 172: U+1F4CE PAPERCLIP
        ("ruler", "📏"),  // 173: U+1F4CF STRAIGHT RULER
        ("triangle", "📐"),  // 174: U+1F4D0 TRIANGULAR RULER
        ("calendar", "📅"),  // 175: U+1F4C5 CALENDAR
        ("chart", "📈"),  // 176: U+1F4C8 CHART WITH UPWARDS TREND
        ("folder", "📁"),  // 177: U+1F4C1 FILE FOLDER
        ("hammer", "🔨"),  // 178: U+1F528 HAMMER
        ("wrench", "🔧"),  // 179: U+1F527 WRENCH
        ("bolt", "🔩"),  // 180: U+1F529 NUT AND BOLT
        ("knife", "🔪"),  // 181: U+1F52A HOCHO
        ("link", "🔗"),  // 182: U+1F517 LINK SYMBOL
        ("bulb", "💡"),  // 183: U+1F4A1 ELECTRIC LIGHT BULB
        ("torch", "🔦"),  // 184: U+1F526 ELECTRIC TORCH
        ("lantern", "🏮"),  // 185: U+1F3EE IZAKAYA LANTERN
        ("battery", "🔋"),  // 186: U+1F50B BATTERY
        ("plug", "🔌"),  // 187: U+1F50C ELECTRIC PLUG
        ("phone", "📱"),  // 188: U+1F4F1 MOBILE PHONE
        ("pager", "📟"),  // 189: U+1F4DF PAGER
        ("laptop", "💻"),  // 190: U+1F4BB PERSONAL COMPUTER
        ("floppy", "💾"),  // 191: U+1F4BE FLOPPY DISK
        ("tape", "📼"),  // 192: U+1F4FC VIDEOCASSETTE
        ("photo", "📷"),  // 193: U+1F4F7 CAMERA
        ("radio", "📻"),  // 194: U+1F4FB RADIO
        ("speaker", "🔊"),  // 195: U+1F50A SPEAKER WITH THREE SOUND WAVES
        ("headset", "🎧"),  // 196: U+1F3A7 HEADPHONE
        ("mic", "🎤"),  // 197: U+1F3A4 MICROPHONE
        ("antenna", "📡"),  // 198: U+1F4E1 SATELLITE ANTENNA
        ("ticket", "🎫"),  // 199: U+1F3AB TICKET
        ("card", "💳"),  // 200: U+1F4B3 CREDIT CARD
        ("dollar", "💵"),  // 201: U+1F4B5 BANKNOTE WITH DOLLAR SIGN
        ("gift", "🎁"),  // 202: U+1F381 WRAPPED PRESENT
        ("balloon", "🎈"),  // 203: U+1F388 BALLOON
        ("party", "🎉"),  // 204: U+1F389 PARTY POPPER
        ("sparkler", "🎇"),  // 205: U+1F387 FIREWORK SPARKLER
        ("ribbon", "🎀"),  // 206: U+1F380 RIBBON
        ("trophy", "🏆"),  // 207: U+1F3C6 TROPHY
        ("medal", "🏅"),  // 208: U+1F3C5 SPORTS MEDAL
        ("crown", "👑"),  // 209: U+1F451 CROWN
        ("gem", "💎"),  // 210: U+1F48E GEM STONE
        ("crystal", "🔮"),  // 211: U+1F52E CRYSTAL BALL
        ("glasses", "👓"),  // 212: U+1F453 EYEGLASSES
        ("tie", "👔"),  // 213: U+1F454 NECKTIE
        ("shirt", "👕"),  // 214: U+1F455 T-SHIRT
        ("jeans", "👖"),  // 215: U+1F456 JEANS
        ("dress", "👗"),  // 216: U+1F457 DRESS
        ("kimono", "👘"),  // 217: U+1F458 KIMONO
        ("bag", "👜"),  // 218: U+1F45C HANDBAG
        ("backpack", "🎒"),  // 219: U+1F392 SCHOOL SATCHEL
        ("shoe", "👞"),  // 220: U+1F45E MANS SHOE
        ("heel", "👠"),  // 221: U+1F460 HIGH-HEELED SHOE
        ("lipstick", "💄"),  // 222: U+1F484 LIPSTICK
        ("barber", "💈"),  // 223: U+1F488 BARBER POLE
        ("shower", "🚿"),  // 224: U+1F6BF SHOWER
        ("bath", "🛁"),  // 225: U+1F6C1 BATHTUB
        ("alarm", "⏰"),  // 226: U+23F0 ALARM CLOCK
        ("watch", "⌚"),  // 227: U+231A WATCH
        // Music, sport and games
        ("guitar", "🎸"),  // 228: U+1F3B8 GUITAR
        ("trumpet", "🎺"),  // 229: U+1F3BA TRUMPET
        ("violin", "🎻"),  // 230: U+1F3BB VIOLIN
        ("drum", "🥁"),  // 231: U+1F941 DRUM WITH DRUMSTICKS
        ("piano", "🎹"),  // 232: U+1F3B9 MUSICAL KEYBOARD
        ("sax", "🎷"),  // 233: U+1F3B7 SAXOPHONE
        ("music", "🎵"),  // 234: U+1F3B5 MUSICAL NOTE
        ("soccer", "⚽"),  // 235: U+26BD SOCCER BALL
        ("baseball", "⚾"),  // 236: U+26BE BASEBALL
        ("tennis", "🎾"),  // 237: U+1F3BE TENNIS RACQUET AND BALL
        ("rugby", "🏉"),  // 238: U+1F3C9 RUGBY FOOTBALL
        ("bowling", "🎳"),  // 239: U+1F3B3 BOWLING
        ("pingpong", "🏓"),  // 240: U+1F3D3 TABLE TENNIS PADDLE AND BALL
        ("hockey", "🏒"),  // 241: U+1F3D2 ICE HOCKEY STICK AND PUCK
        ("boxing", "🥊"),  // 242: U+1F94A BOXING GLOVE
        ("target", "🎯"),  // 243: U+1F3AF DIRECT HIT
        ("arrow", "🏹"),  // 244: U+1F3F9 BOW AND ARROW
        ("dice", "🎲"),  // 245: U+1F3B2 GAME DIE
        ("joker", "🃏"),  // 246: U+1F0CF PLAYING CARD BLACK JOKER
        ("gamepad", "🎮"),  // 247: U+1F3AE VIDEO GAME
        ("mask", "🎭"),  // 248: U+1F3AD PERFORMING ARTS
        ("palette", "🎨"),  // 249: U+1F3A8 ARTIST PALETTE
        ("film", "🎬"),  // 250: U+1F3AC CLAPPER BOARD
        // Fantasy
        ("alien", "👽"),  // 251: U+1F47D EXTRATERRESTRIAL ALIEN
        ("robot", "🤖"),  // 252: U+1F916 ROBOT FACE
        ("skull", "💀"),  // 253: U+1F480 SKULL
        ("pumpkin", "🎃"),  // 254: U+1F383 JACK-O-LANTERN
        ("eyes", "👀"),  // 255: U+1F440 EYES
    ]
}

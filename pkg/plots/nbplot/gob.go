package nbplot

import "encoding/gob"

// GoNB sends display messages through a gob-encoded pipe; the width/height metadata
// that Data attaches is a map[string]any inside an interface, which gob can only
// encode once the type is registered (otherwise SendData logs "type not registered"
// and the figure never shows).
func init() { gob.Register(map[string]any{}) }
